pub mod extensions;
