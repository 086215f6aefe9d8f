//! `tomoni doctor`: what a user needs when the companion does not show or speak. Each line is
//! one part of the chain — glasses, GPU, sound, voice, mind — with what was found or why not.

use crate::app::Setup;
use crate::error::Failure;
use crate::session;
use bevy::prelude::*;
use std::time::Duration;

/// Runs every check and prints the report; fails only when the files themselves are broken.
pub fn doctor(setup: &Setup) -> Result<(), Failure> {
    println!("tomoni doctor");
    // OpenXR.
    match tomoni_xr::xr::probe() {
        Ok(p) => {
            println!("  OpenXR runtime:  {} {}", p.runtime, p.runtime_version);
            match &p.system {
                Some(s) => println!("  headset:         {s}"),
                None => println!("  headset:         none connected (the runtime found no head-mounted display)"),
            }
            if !p.blend_modes.is_empty() {
                let available: Vec<openxr::EnvironmentBlendMode> = p
                    .blend_modes
                    .iter()
                    .filter_map(|n| tomoni_xr::xr::parse_blend_modes(&[n.to_string()]).ok())
                    .flatten()
                    .collect();
                let chosen = tomoni_xr::xr::choose_blend_mode(&setup.blend_preference, &available)
                    .map_or("none", tomoni_xr::xr::blend_name);
                println!("  blend modes:     {} (tomoni would use {chosen})", p.blend_modes.join(", "));
            }
            let wanted = [
                "XR_KHR_vulkan_enable2",
                "XR_FB_passthrough",
                "XR_EXT_spatial_anchor",
                "XR_FB_spatial_entity",
                "XR_MSFT_spatial_anchor",
                "XR_EXT_local_floor",
            ];
            let has: Vec<String> = wanted
                .iter()
                .map(|w| format!("{w} {}", if p.extensions.iter().any(|e| e == w) { "yes" } else { "no" }))
                .collect();
            println!("  extensions:      {}", has.join(", "));
            println!("                   ({} offered in all)", p.extensions.len());
        }
        Err(e) => println!("  OpenXR:          {e} → `tomoni run` opens a desktop window instead"),
    }
    // Vulkan adapter, as the renderer sees it.
    println!("  GPU (Vulkan):    {}", adapter().unwrap_or_else(|e| format!("none: {e}")));
    // Sound.
    match tomoni_voice::playback::open_default_output() {
        Ok(_) => println!("  audio output:    default device available"),
        Err(e) => println!("  audio output:    none ({}) → speech runs silent, timed by the frame clock", e.cause()),
    }
    // Voice and mind.
    // The config and persona `prepare` resolved (so `--config` and `--persona` count here too).
    let cfg = &setup.config;
    let persona = &setup.persona;
    let engine = crate::speech::voice_engine(&persona.voice);
    let voice = match &engine {
        tomoni_voice::speaker::VoiceEngine::OpenAi(o) => {
            let up = session::answers(&o.base_url, Duration::from_millis(800));
            format!("{} ({})", engine.describe(), if up { "answering" } else { "NOT answering" })
        }
        _ => {
            let t = std::time::Instant::now();
            match engine.synthesize_once("Hello, I am here with you.") {
                Ok((s, _)) => format!(
                    "{} (synthesised {:.2} s of test speech in {:.2} s, model load included)",
                    engine.describe(),
                    s.duration_ms() / 1000.0,
                    t.elapsed().as_secs_f64()
                ),
                Err(e) => format!("{}: {e}", engine.describe()),
            }
        }
    };
    println!("  voice:           {voice}");
    println!("  ears:            {}", ears(&cfg.listen));
    println!("  photos:          {}", photos());
    let llm = if !cfg.llm.base_url.is_empty() {
        let up = session::answers(&cfg.llm.base_url, Duration::from_millis(800));
        format!("{} at {} ({})", cfg.llm.model, cfg.llm.base_url, if up { "answering" } else { "NOT answering" })
    } else if session::answers(&session::ollama_url(), Duration::from_millis(300)) {
        format!("Ollama at {} (answering)", session::ollama_url())
    } else {
        format!("nothing configured, Ollama not answering → {}", tomoni_persona::offline::LABEL)
    };
    println!("  LLM:             {llm}");
    if !cfg.llm.api_key_env.is_empty() {
        let set = std::env::var(&cfg.llm.api_key_env).is_ok_and(|k| !k.is_empty());
        println!("  API key:         ${} {}", cfg.llm.api_key_env, if set { "is set" } else { "is NOT set" });
    }
    println!("  persona:         {} (avatar {})", persona.name, setup.avatar_file.display());
    println!("  memory:          {}", tomoni_persona::memory::default_path().display());
    Ok(())
}

/// The microphone and the listening models, as `tomoni run` would find them (nothing opened
/// but the models' files checked).
fn ears(l: &tomoni_core::config::ListenSettings) -> String {
    if !l.microphone {
        return "off ([listen] microphone = false): type to talk".into();
    }
    let mic = match tomoni_voice::playback::no_sound_device() {
        Some(why) => format!("no microphone ({why}): type to talk"),
        None => "the default microphone".into(),
    };
    let vad = tomoni_listen::vad::default_model();
    let words = match l.engine.as_str() {
        "openai" => format!("words by {} ({})", l.endpoint, l.model),
        _ => {
            let m = if l.model_path.is_empty() {
                tomoni_listen::stt::model_for(&l.language)
            } else {
                l.model_path.clone().into()
            };
            if m.is_file() {
                format!("words by Whisper {}", m.display())
            } else {
                format!("NO Whisper model at {} (run `cargo xtask deps`)", m.display())
            }
        }
    };
    let vad = if vad.is_file() { "Silero VAD".to_string() } else { format!("NO VAD model at {}", vad.display()) };
    format!("{mic}; {vad}; {words}")
}

/// What `tomoni photo` needs: the person and pose models (converted at set-up).
fn photos() -> String {
    if tomoni_photo::people::models_ready() {
        format!("person and pose models in {}", tomoni_photo::model_dir().display())
    } else {
        format!("NO person/pose models in {} (run `cargo xtask deps`)", tomoni_photo::model_dir().display())
    }
}

/// The Vulkan adapter the renderer picks: a one-frame headless app reports it.
fn adapter() -> Result<String, String> {
    let mut app = App::new();
    app.add_plugins(
        DefaultPlugins
            .set(crate::app::render_plugin(true))
            .set(WindowPlugin {
                primary_window: None,
                exit_condition: bevy::window::ExitCondition::DontExit,
                ..default()
            })
            .disable::<bevy::winit::WinitPlugin>()
            .disable::<bevy::log::LogPlugin>(),
    );
    app.finish();
    app.cleanup();
    app.update();
    let info = app.world().get_resource::<bevy::render::renderer::RenderAdapterInfo>().ok_or("no Vulkan adapter")?;
    Ok(format!("{} ({:?}, driver {} {})", info.name, info.device_type, info.driver, info.driver_info))
}
