//! Pure logic, no browser: what the views show and when the stream reconnects. Everything
//! here is tested natively (`cargo test -p meshwork-hub`).

pub mod format;
pub mod markdown;
pub mod overview;
pub mod reconnect;
pub mod skills;
pub mod task_detail;
pub mod task_filter;
pub mod task_form;
pub mod topology_layout;
