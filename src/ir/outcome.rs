//! What the engine concludes about one function, in the IR's own terms
//! (sites and spans): the front ends' summaries and the rules read it
//! without depending on the engine that computes it.

use crate::diagnostic::Span;
use crate::ir::SiteId;

/// Why a resource leaked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeakPath {
    /// On a path without exceptions: never released.
    Normal,
    /// Only on paths where the given place raised.
    OnError { raised_at: Span },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leak {
    pub site: SiteId,
    pub path: LeakPath,
    /// Where the last reference was overwritten, when that is how it was
    /// lost (rather than by leaving the function).
    pub overwritten_at: Option<Span>,
    /// Where it is released on the paths that do release it.
    pub released_at: Vec<Span>,
    /// It was used (a method called, passed along) before it leaked, on
    /// some leaking path.
    pub engaged: bool,
}

/// What the engine learnt about one function.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    pub leaks: Vec<Leak>,
    /// Sites returned to the caller on some path (for summaries).
    pub returned: Vec<SiteId>,
    /// Sites released (or guarded) somewhere.
    pub released: Vec<SiteId>,
    /// Sites handed over other than by returning (stored, captured) on
    /// some path.
    pub stored: Vec<SiteId>,
    /// For each acquisition event (site, event span) made while other
    /// sites may still be open on a path without exceptions: those sites.
    /// Nested acquisitions from one pool are found with it.
    pub open_at_acquire: Vec<(SiteId, Span, Vec<SiteId>)>,
}
