//! The desktop window's own parts: the text box and the debug panel.

use crate::bridge::Bridge;
use crate::telemetry::TurnLatency;
use bevy::prelude::*;
use tomoni_core::TomoniSystems;
use tomoni_core::behaviour::{Conversation, TextEntry};

/// The desktop window's text box (Enter, type, Enter) and the debug panel with the AI
/// disclosure, the brain and voice, the turn state and per-turn latencies.
pub struct DesktopUiPlugin;

impl Plugin for DesktopUiPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<TextEntry>()
            .add_systems(Startup, spawn_ui)
            .add_systems(Update, (type_text.in_set(TomoniSystems::Input), show_debug.after(TomoniSystems::Pose)));
    }
}

#[derive(Component)]
struct TypedLine;

#[derive(Component)]
struct DebugPanel;

/// The desktop panel's texts (which the in-world label's systems leave alone).
#[derive(Component, Default)]
pub struct PanelText;

const TYPE_HINT: &str = "Enter: talk    R: recenter    WASD/arrows, right-drag: move and look";

fn spawn_ui(mut commands: Commands) {
    commands.spawn((
        TypedLine,
        PanelText,
        Text::new(TYPE_HINT),
        TextFont { font_size: FontSize::Px(18.0), ..default() },
        TextColor(Color::srgb(0.1, 0.1, 0.15)),
        Node { position_type: PositionType::Absolute, bottom: px(16), left: px(16), ..default() },
    ));
    commands.spawn((
        DebugPanel,
        PanelText,
        Text::new(""),
        TextFont { font_size: FontSize::Px(13.0), ..default() },
        TextColor(Color::srgb(0.25, 0.25, 0.3)),
        Node { position_type: PositionType::Absolute, top: px(10), left: px(12), ..default() },
    ));
}

/// The desktop text box: Enter opens it, typing fills it (the companion listens), Enter sends,
/// Escape closes. Allocates only while the user types.
fn type_text(
    mut keys: MessageReader<bevy::input::keyboard::KeyboardInput>,
    mut entry: ResMut<TextEntry>,
    mut typed: Local<String>,
    mut bridge: ResMut<Bridge>,
    mut conversation: ResMut<Conversation>,
    mut line: Query<&mut Text, With<TypedLine>>,
) {
    use bevy::input::ButtonState;
    use bevy::input::keyboard::Key;
    let mut changed = false;
    for k in keys.read() {
        if k.state != ButtonState::Pressed {
            continue;
        }
        match (&k.logical_key, entry.0) {
            (Key::Enter, false) => entry.0 = true,
            (Key::Enter, true) => {
                let text = typed.trim().to_string();
                if !text.is_empty() {
                    bridge.say(&text, None);
                }
                typed.clear();
                entry.0 = false;
            }
            (Key::Escape, true) => {
                typed.clear();
                entry.0 = false;
                if *conversation == Conversation::Listening {
                    *conversation = Conversation::Idle;
                }
            }
            (Key::Backspace, true) => {
                typed.pop();
            }
            (_, true) => {
                if let Some(t) = &k.text {
                    typed.extend(t.chars().filter(|c| !c.is_control()));
                }
            }
            _ => continue,
        }
        changed = true;
    }
    if entry.0 && !typed.is_empty() && matches!(*conversation, Conversation::Idle) {
        *conversation = Conversation::Listening;
    }
    if changed && let Ok(mut t) = line.single_mut() {
        t.0 = if entry.0 { format!("you> {}_", *typed) } else { TYPE_HINT.to_string() };
    }
}

fn show_debug(
    bridge: Res<Bridge>,
    conversation: Res<Conversation>,
    hearing: Option<Res<crate::hearing::Hearing>>,
    mut shown: Local<Option<(Conversation, Option<TurnLatency>)>>,
    mut panel: Query<&mut Text, With<DebugPanel>>,
) {
    let now = (*conversation, bridge.last);
    let heard_changed = hearing.as_ref().is_some_and(|h| h.is_changed());
    if *shown == Some(now) && !heard_changed {
        return;
    }
    *shown = Some(now);
    let (how, ears) = match &hearing {
        Some(h) => ("speak, or press Enter, type, and press Enter", format!("\nears: {}\n{}", h.source, h.status)),
        None => ("press Enter, type, and press Enter to talk", String::new()),
    };
    if let Ok(mut t) = panel.single_mut() {
        t.0 = format!(
            "{}\n{}\n{:?}\n{}{ears}",
            bridge.disclosure,
            bridge.label,
            *conversation,
            bridge.last.map_or_else(|| format!("no turn yet: {how}"), |l| l.line())
        );
    }
}
