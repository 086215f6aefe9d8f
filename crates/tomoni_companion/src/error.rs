//! Why a command stops: bad input (exit 2) or a failure while running (exit 1).

/// Why the program stops.
#[derive(Debug, Clone)]
pub enum Failure {
    /// A file the user gave (or we found) is not usable; the message names it and the place.
    Input(String),
    /// Something failed at run time (no GPU, timeout, write error).
    Runtime(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Input(m) | Failure::Runtime(m) => f.write_str(m),
        }
    }
}
