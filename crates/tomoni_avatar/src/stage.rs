//! Light and floor that flatter the avatar: a warm key light from the front-left above, a cool
//! fill from the right, soft ambient, and (unless transparent for AR) a quiet floor and room.

use bevy::light::GlobalAmbientLight;
use bevy::prelude::*;

/// Room colour behind the companion when not compositing over the real world.
pub const ROOM_COLOR: Color = Color::srgb(0.80, 0.82, 0.86);

/// Lights and, optionally, a floor.
pub struct StagePlugin {
    /// Clear to transparent and draw no floor (AR passthrough / compositing).
    pub transparent: bool,
}

impl Plugin for StagePlugin {
    fn build(&self, app: &mut App) {
        let transparent = self.transparent;
        app.init_resource::<tomoni_core::SeeThrough>()
            .add_systems(Update, follow_see_through)
            .insert_resource(ClearColor(if transparent { Color::NONE } else { ROOM_COLOR }))
            .insert_resource(GlobalAmbientLight { color: Color::srgb(0.95, 0.95, 1.0), brightness: 350.0, ..default() })
            .add_systems(
                Startup,
                move |mut commands: Commands,
                      mut meshes: ResMut<Assets<Mesh>>,
                      mut materials: ResMut<Assets<StandardMaterial>>| {
                    commands.spawn((
                        Name::new("key light"),
                        DirectionalLight { illuminance: 9_000.0, color: Color::srgb(1.0, 0.96, 0.90), ..default() },
                        Transform::from_xyz(-2.0, 3.5, 3.0).looking_at(Vec3::new(0.0, 1.0, 0.0), Vec3::Y),
                    ));
                    commands.spawn((
                        Name::new("fill light"),
                        DirectionalLight { illuminance: 3_000.0, color: Color::srgb(0.85, 0.90, 1.0), ..default() },
                        Transform::from_xyz(3.0, 2.0, 1.0).looking_at(Vec3::new(0.0, 1.0, 0.0), Vec3::Y),
                    ));
                    if !transparent {
                        commands.spawn((
                            Floor,
                            Name::new("floor"),
                            Mesh3d(meshes.add(Circle::new(12.0))),
                            MeshMaterial3d(materials.add(StandardMaterial {
                                base_color: Color::srgb(0.62, 0.60, 0.58),
                                perceptual_roughness: 0.9,
                                ..default()
                            })),
                            Transform::from_rotation(Quat::from_rotation_x(-std::f32::consts::FRAC_PI_2)),
                        ));
                    }
                },
            );
    }
}

/// The virtual floor (hidden when the real one shows through).
#[derive(Component, Debug)]
pub struct Floor;

fn follow_see_through(
    see: Res<tomoni_core::SeeThrough>,
    mut clear: ResMut<ClearColor>,
    mut floors: Query<&mut Visibility, With<Floor>>,
) {
    if !see.is_changed() || !see.0 {
        return;
    }
    clear.0 = Color::NONE;
    for mut v in &mut floors {
        *v = Visibility::Hidden;
    }
}
