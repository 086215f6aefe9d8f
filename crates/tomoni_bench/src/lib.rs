//! Benchmarks: see `benches/`. Run them with `cargo xtask bench`, which builds them in the dev
//! profile every other task uses, so Bevy is compiled once. This library holds what several
//! benches share: a VRM-like skeleton and a loopback HTTP request reader.

use bevy::prelude::*;
use bevy_vrm1::prelude::{RestTransform, VrmBone};
use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;
use tomoni_avatar::pose::ModelRest;

/// Spawns 55 bones like the default avatar's: the humanoid bones that get poses
/// ([`tomoni_avatar::life::ANIMATED_BONES`]), the rest named but never posed.
pub fn spawn_skeleton(world: &mut World) {
    let names = tomoni_avatar::life::ANIMATED_BONES;
    for i in 0..55 {
        let name = names.get(i).map_or_else(|| format!("finger{i}"), |s| s.to_string());
        let rest = Transform::from_rotation(Quat::from_rotation_z(0.01 * i as f32));
        world.spawn((VrmBone(name), RestTransform(rest), ModelRest(Quat::from_rotation_x(0.02 * i as f32)), rest));
    }
}

/// Reads one HTTP request from a loopback client: its first line and its body.
pub fn read_request(s: &TcpStream) -> (String, Vec<u8>) {
    let mut reader = BufReader::new(s.try_clone().expect("socket clone"));
    let (mut first, mut len) = (String::new(), 0usize);
    let _ = reader.read_line(&mut first);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; len];
    let _ = reader.read_exact(&mut body);
    (first, body)
}
