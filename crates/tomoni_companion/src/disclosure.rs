//! The AI disclosure in the world: a small label beside the companion saying what it is
//! ("Tomo - AI companion"), so that in glasses, where there is no panel, nobody is misled
//! (California SB 243, New York's companion-model law; docs/wellbeing.md).
//!
//! The text is laid out by Bevy UI into a small image once (a camera that renders UI to a
//! texture, switched off when done), and the image is shown on a quad that stands where the
//! companion stands. It costs nothing per frame after the first few.

use bevy::camera::RenderTarget;
use bevy::prelude::*;
use bevy::render::render_resource::TextureFormat;
use tomoni_core::{CompanionAnchor, TomoniSystems};

/// Shows the label with `text`.
pub struct DisclosureLabelPlugin {
    /// What the label says.
    pub text: String,
    /// The avatar's author credit, where its licence asks for one: the label's second line
    /// whenever no notice needs it.
    pub credit: Option<String>,
}

/// The label's quad.
#[derive(Component)]
pub struct DisclosureLabel;

#[derive(Component)]
struct LabelCamera(u32);

#[cfg(test)]
mod tests {
    #[test]
    fn a_credit_too_long_for_the_label_keeps_its_authors() {
        assert_eq!(super::credit_line("\"Lune\" by Ann"), "avatar \"Lune\" by Ann");
        let long = super::credit_line("\"tomoni default companion\" by tomoni contributors");
        assert_eq!(long, "avatar by tomoni contributors");
        assert!(
            super::fit(&"x".repeat(100)).ends_with("...") && super::fit(&"x".repeat(100)).len() == super::LINE_CHARS
        );
    }
}

/// A notice stands out from the label; a credit does not.
const NOTICE_COLOUR: Color = Color::srgb(1.0, 0.82, 0.45);
const CREDIT_COLOUR: Color = Color::srgb(0.75, 0.76, 0.8);

/// The second line's width in characters at its size (a longer one would wrap out of the
/// label's picture).
const LINE_CHARS: usize = 42;

/// `line` cut to the label's width.
fn fit(line: &str) -> String {
    if line.chars().count() <= LINE_CHARS {
        return line.to_string();
    }
    let cut: String = line.chars().take(LINE_CHARS - 3).collect();
    format!("{}...", cut.trim_end())
}

/// The avatar's credit (`"NAME" by AUTHORS`) as the label shows it: whole where it fits, else
/// the authors, whom the credit is for.
pub fn credit_line(credit: &str) -> String {
    let whole = format!("avatar {credit}");
    match credit.split_once("\" by ") {
        Some((_, by)) if whole.chars().count() > LINE_CHARS => fit(&format!("avatar by {by}")),
        _ => fit(&whole),
    }
}

/// The label's second line: what the person must know now (see [`crate::bridge::Notices`]).
#[derive(Component)]
struct NoticeLine;

#[derive(Resource)]
struct LabelText(String, Option<String>);

/// Label size in metres: readable at two metres, small beside a 1.7 m companion.
const SIZE: Vec2 = Vec2::new(0.42, 0.06);
/// Texture size: 14 pixels a centimetre.
const PIXELS: UVec2 = UVec2::new(588, 84);

impl Plugin for DisclosureLabelPlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(LabelText(self.text.clone(), self.credit.clone()))
            .add_systems(Startup, spawn_label)
            .add_systems(
                Update,
                (follow_anchor.after(TomoniSystems::Pose), show_listening, show_notice, stop_label_camera).chain(),
            );
    }
}

fn spawn_label(
    mut commands: Commands,
    text: Res<LabelText>,
    mut images: ResMut<Assets<Image>>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
) {
    let image = images.add(Image::new_target_texture(PIXELS.x, PIXELS.y, TextureFormat::Rgba8UnormSrgb, None));
    let camera = commands
        .spawn((
            Name::new("disclosure label camera"),
            LabelCamera(0),
            Camera2d,
            Camera {
                order: -10,
                clear_color: ClearColorConfig::Custom(Color::srgba(0.06, 0.07, 0.1, 0.72)),
                ..default()
            },
            RenderTarget::Image(image.clone().into()),
        ))
        .id();
    commands.spawn((
        UiTargetCamera(camera),
        Node {
            width: percent(100),
            height: percent(100),
            flex_direction: FlexDirection::Column,
            justify_content: JustifyContent::Center,
            align_items: AlignItems::Center,
            ..default()
        },
        children![
            (
                Text::new(text.0.clone()),
                TextFont { font_size: FontSize::Px(38.0), ..default() },
                TextColor(Color::srgb(0.95, 0.95, 0.97)),
            ),
            (
                NoticeLine,
                Text::new(fit(text.1.as_deref().unwrap_or_default())),
                TextFont { font_size: FontSize::Px(15.0), ..default() },
                TextColor(CREDIT_COLOUR),
            )
        ],
    ));
    commands.spawn((
        Name::new("AI disclosure label"),
        DisclosureLabel,
        Mesh3d(meshes.add(Rectangle::from_size(SIZE))),
        MeshMaterial3d(materials.add(StandardMaterial {
            base_color_texture: Some(image),
            unlit: true,
            alpha_mode: AlphaMode::Blend,
            ..default()
        })),
        Transform::default(),
        Visibility::Hidden,
    ));
}

/// Floats the label at hip height beside the companion (on the viewer's right as it faces
/// them), turned the way it faces (to the viewer): in view whenever the companion is, small
/// enough not to be in the way.
fn follow_anchor(
    anchor: Res<CompanionAnchor>,
    mut label: Query<(&mut Transform, &mut Visibility), With<DisclosureLabel>>,
) {
    if !anchor.is_changed() {
        return;
    }
    let Some(a) = anchor.0 else { return };
    for (mut t, mut v) in &mut label {
        // The VRM faces +Z, so its left (+X) is on the right of whoever it faces.
        let side = a.rotation * Vec3::X;
        t.translation = a.translation + side * 0.5 + Vec3::Y * 0.95;
        t.rotation = a.rotation;
        *v = Visibility::Inherited;
    }
}

/// In glasses there is no panel: while the person speaks, the label says the companion is
/// listening (hands-free talk needs that cue), and it draws again for a few frames.
fn show_listening(
    hearing: Option<Res<crate::hearing::Hearing>>,
    conversation: Res<tomoni_core::behaviour::Conversation>,
    base: Res<LabelText>,
    mut shown: Local<bool>,
    mut texts: Query<&mut Text, Without<crate::ui::PanelText>>,
    mut cams: Query<(&mut Camera, &mut LabelCamera)>,
) {
    let listening = hearing.is_some() && *conversation == tomoni_core::behaviour::Conversation::Listening;
    if listening == *shown {
        return;
    }
    *shown = listening;
    for mut t in &mut texts {
        if t.0.starts_with(base.0.as_str()) {
            t.0 = if listening { format!("{} - listening...", base.0) } else { base.0.clone() };
        }
    }
    for (mut cam, mut frames) in &mut cams {
        cam.is_active = true;
        frames.0 = 0;
    }
}

/// A notice (a full disk, no sound) shows as the label's second line while it lasts (in place
/// of the avatar's credit, which comes back after), and the label draws again.
fn show_notice(
    bridge: Option<Res<crate::bridge::Bridge>>,
    base: Res<LabelText>,
    mut shown: Local<crate::bridge::Notices>,
    mut line: Query<(&mut Text, &mut TextColor), With<NoticeLine>>,
    mut cams: Query<(&mut Camera, &mut LabelCamera)>,
) {
    let Some(bridge) = bridge else { return };
    if *shown == bridge.notices {
        return;
    }
    shown.clone_from(&bridge.notices);
    for (mut t, mut colour) in &mut line {
        (t.0, colour.0) = match shown.line() {
            Some(notice) => (fit(&notice), NOTICE_COLOUR),
            None => (fit(base.1.as_deref().unwrap_or_default()), CREDIT_COLOUR),
        };
    }
    for (mut cam, mut frames) in &mut cams {
        cam.is_active = true;
        frames.0 = 0;
    }
}

/// The text changes only with the listening cue and notices: after a few frames (font loaded, laid out, drawn) the camera
/// stops and the image keeps what it drew.
fn stop_label_camera(mut cams: Query<(&mut Camera, &mut LabelCamera)>) {
    for (mut cam, mut frames) in &mut cams {
        frames.0 += 1;
        if frames.0 == 30 {
            cam.is_active = false;
        }
    }
}
