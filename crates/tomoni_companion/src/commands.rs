//! Carries out the control plane's commands in the frame loop.

use crate::bridge::{Bridge, map_emotion};
use crate::control::{ControlCommand, ControlInbox, ControlReply, ControlRequest};
use bevy::prelude::*;
use tomoni_core::TomoniSystems;
use tomoni_core::behaviour::{EmotionCue, GestureCue};

/// Carries out control commands in the frame loop. Add transports by handing them
/// [`ControlInbox::sender`] (see [`crate::control::unix::listen`]).
pub struct ControlPlugin;

impl Plugin for ControlPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<ControlInbox>()
            .add_message::<tomoni_xr::Recenter>()
            .add_message::<EmotionCue>()
            .add_message::<GestureCue>()
            .add_systems(Update, drain_control.in_set(TomoniSystems::Input));
    }
}

fn drain_control(
    inbox: Res<ControlInbox>,
    mut bridge: ResMut<Bridge>,
    mut recenter: MessageWriter<tomoni_xr::Recenter>,
    mut emotions: MessageWriter<EmotionCue>,
    mut gestures: MessageWriter<GestureCue>,
    mut ceremony: Option<ResMut<crate::ceremony::Ceremony>>,
) {
    while let Some(ControlRequest { command, reply }) = inbox.try_recv() {
        match command {
            ControlCommand::Say(text) => bridge.say(&text, Some(reply)),
            ControlCommand::Recenter => {
                recenter.write(tomoni_xr::Recenter);
                reply.finish(ControlReply::Done("recentred".into()));
            }
            ControlCommand::Gesture(g) => {
                gestures.write(GestureCue::Procedural(g));
                reply.finish(ControlReply::Done(g.name().into()));
            }
            ControlCommand::Emotion(e, intensity) => {
                emotions.write(EmotionCue { emotion: map_emotion(e), intensity });
                reply.finish(ControlReply::Done(e.vrm_name().into()));
            }
            ControlCommand::Ceremony(cmd) => match ceremony.as_mut() {
                // Carried out by the ceremony's own system this frame, which answers.
                Some(c) => c.request(cmd, reply),
                None => reply.finish(ControlReply::Error("no ceremony is running".into())),
            },
        }
    }
}
