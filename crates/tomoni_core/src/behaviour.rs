//! What the companion is doing, as the dialogue and speech bridges tell the avatar: mouth weights
//! at the audio clock, emotion and gesture cues, and the turn-taking state. Closed types only:
//! the wire formats (expression tags, SSE) are parsed in `tomoni_persona` and mapped here.

use bevy::prelude::*;

/// VRM preset mouth expressions, in the order [`MouthWeights`] stores them.
pub const MOUTH: [&str; 5] = ["aa", "ih", "ou", "ee", "oh"];

/// Mouth weights (`aa ih ou ee oh`) for this frame: the viseme at the audio sample that will be
/// heard when the frame is displayed. All zero when silent.
#[derive(Resource, Debug, Clone, Copy, Default, PartialEq)]
pub struct MouthWeights(pub [f32; 5]);

/// The emotions the face can show (VRM preset expressions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Emotion {
    /// `happy`.
    Happy,
    /// `angry`.
    Angry,
    /// `sad`.
    Sad,
    /// `relaxed`.
    Relaxed,
    /// `surprised`.
    Surprised,
    /// No emotion: the face relaxes to rest.
    Neutral,
}

impl Emotion {
    /// Every emotion with a face of its own (not [`Emotion::Neutral`]).
    pub const SHOWN: [Emotion; 5] =
        [Emotion::Happy, Emotion::Angry, Emotion::Sad, Emotion::Relaxed, Emotion::Surprised];

    /// The VRM preset expression name.
    pub fn vrm_name(self) -> &'static str {
        match self {
            Emotion::Happy => "happy",
            Emotion::Angry => "angry",
            Emotion::Sad => "sad",
            Emotion::Relaxed => "relaxed",
            Emotion::Surprised => "surprised",
            Emotion::Neutral => "neutral",
        }
    }
}

/// Shows an emotion at `intensity` (0..1); it holds a moment, then fades.
#[derive(Message, Debug, Clone, Copy, PartialEq)]
pub struct EmotionCue {
    /// Which.
    pub emotion: Emotion,
    /// How strongly, 0..1.
    pub intensity: f32,
}

/// The body language the avatar can perform procedurally on any VRM humanoid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Gesture {
    /// Head down and up, twice: yes, I hear you.
    Nod,
    /// Head turns left and right: no.
    HeadShake,
    /// Head leans to one side: curious, thinking.
    HeadTilt,
    /// Right hand raised, waving.
    Wave,
    /// Bow from the hips.
    Bow,
    /// Right hand on the chest.
    HandOnHeart,
    /// Shoulders up, palms out.
    Shrug,
    /// Right hand held out, palm up.
    OfferHand,
}

impl Gesture {
    /// Every procedural gesture.
    pub const ALL: [Gesture; 8] = [
        Gesture::Nod,
        Gesture::HeadShake,
        Gesture::HeadTilt,
        Gesture::Wave,
        Gesture::Bow,
        Gesture::HandOnHeart,
        Gesture::Shrug,
        Gesture::OfferHand,
    ];

    /// The name used in expression tags (`[gesture:nod]`) and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Gesture::Nod => "nod",
            Gesture::HeadShake => "head_shake",
            Gesture::HeadTilt => "head_tilt",
            Gesture::Wave => "wave",
            Gesture::Bow => "bow",
            Gesture::HandOnHeart => "hand_on_heart",
            Gesture::Shrug => "shrug",
            Gesture::OfferHand => "offer_hand",
        }
    }

    /// Parses a gesture name; spaces, dashes and case are forgiven (`Hand-on-heart`).
    pub fn parse(s: &str) -> Option<Gesture> {
        let norm: String =
            s.trim().chars().map(|c| if c == '-' || c == ' ' { '_' } else { c.to_ascii_lowercase() }).collect();
        let norm = match norm.as_str() {
            "shake" | "headshake" | "shake_head" => "head_shake",
            "tilt" | "headtilt" | "tilt_head" => "head_tilt",
            "heart" => "hand_on_heart",
            "offer" | "offer_a_hand" => "offer_hand",
            other => other,
        };
        Gesture::ALL.into_iter().find(|g| g.name() == norm)
    }

    /// How long the gesture takes, seconds.
    pub fn duration(self) -> f32 {
        match self {
            Gesture::Nod => 1.0,
            Gesture::HeadShake => 1.2,
            Gesture::HeadTilt => 1.8,
            Gesture::Wave => 2.2,
            Gesture::Bow => 2.4,
            Gesture::HandOnHeart => 2.6,
            Gesture::Shrug => 1.6,
            Gesture::OfferHand => 2.6,
        }
    }
}

/// Plays a gesture: a procedural one, or a `.vrma` clip from `assets/animations/` by file stem.
#[derive(Message, Debug, Clone, PartialEq)]
pub enum GestureCue {
    /// A built-in procedural gesture.
    Procedural(Gesture),
    /// A VRM animation clip, by name (`assets/animations/NAME.vrma`).
    Clip(String),
}

/// Where the conversation is, for turn-taking body language.
#[derive(Resource, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Conversation {
    /// Nobody is talking.
    #[default]
    Idle,
    /// The user is typing or speaking: attentive posture, back-channel nods.
    Listening,
    /// The reply has been asked for and has not started: a thinking cue.
    Thinking,
    /// The companion is speaking.
    Speaking,
}

/// True while the user is typing into the desktop text box: keys are text, not movement.
#[derive(Resource, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TextEntry(pub bool);

/// Whether the user can see the companion now. False while the XR session is not VISIBLE or
/// FOCUSED (headset off, system menu): speech and animation pause.
#[derive(Resource, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Presence(pub bool);

impl Default for Presence {
    fn default() -> Self {
        Self(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gesture_names_round_trip_and_forgive_spelling() {
        for g in Gesture::ALL {
            assert_eq!(Gesture::parse(g.name()), Some(g));
        }
        assert_eq!(Gesture::parse("Hand-on-heart"), Some(Gesture::HandOnHeart));
        assert_eq!(Gesture::parse("shake head"), Some(Gesture::HeadShake));
        assert_eq!(Gesture::parse("moonwalk"), None);
    }
}
