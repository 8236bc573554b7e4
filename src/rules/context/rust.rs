//! Wording that the Rust rules share.

use crate::ir::{Function, SiteId};

/// How a site is named in messages: its variable, else its type.
pub(crate) fn what(f: &Function, site: SiteId) -> String {
    let s = &f.sites[site];
    if s.var_name.is_empty() {
        format!("this `{}`", short(&s.type_name))
    } else {
        format!("`{}`", s.var_name)
    }
}

/// A type path's last segment.
pub(crate) fn short(type_name: &str) -> &str {
    type_name.rsplit("::").next().unwrap_or(type_name)
}
