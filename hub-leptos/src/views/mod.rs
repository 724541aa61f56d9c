//! The page: one component per section, plus the shell around them.

pub mod agents;
pub mod app;
pub mod confirm;
pub mod devices;
pub mod empty;
pub mod header;
pub mod join;
pub mod login;
pub mod overview;
pub mod task_detail;
pub mod task_form;
pub mod tasks;
pub mod topology;

pub use app::App;
