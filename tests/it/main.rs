//! kvenv's integration tests: the real binary against the loopback fakes of
//! Azure, one module per area, in one test binary (one link, one run). A
//! test that lacks what the machine does not have is skipped with a line, and
//! the skipped ones are listed again when the binary exits.

mod appconfig;
mod architecture;
mod bounded_memory;
mod built;
mod cert;
mod check;
mod descriptors;
mod dns;
mod dotenv;
mod examples;
mod files;
mod hostile;
mod http2;
mod identity;
mod inject_hostile;
mod kubectl;
mod macos_paths;
mod mask;
mod postgres;
mod run;
mod shape;
mod shape_hostile;
mod r#static;
mod support;
mod trust;
mod watch;
mod windows;
