//! Shared by the tests that play an LLM or TTS provider on loopback.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;

/// Reads one HTTP request: its first line (`POST /v1/... HTTP/1.1`) and its body.
pub fn read_request(s: &TcpStream) -> (String, Vec<u8>) {
    let mut reader = BufReader::new(s.try_clone().unwrap());
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
