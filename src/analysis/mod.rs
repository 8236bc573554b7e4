//! The dataflow engine: a forward may-analysis over a [`Function`]'s CFG
//! that follows normal and exceptional edges and finds the resources still
//! open when control leaves the function (or when the last reference to
//! one is overwritten).
//!
//! The abstract state maps each variable to the acquisition sites it may
//! hold, and each site to how it may still be open: *clean* (no exception
//! was raised since it was acquired) or *raised* (an exception was, at the
//! first such place). A leak reached only through raised facts is a leak on
//! an error path (LK102); one reached cleanly is an unclosed resource
//! (LK101).

use std::collections::VecDeque;

use crate::diagnostic::Span;
use crate::ir::{BlockId, Event, EventKind, Function, SiteId, VarId};

/// How a site may still be open at a program point.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Open {
    /// Open on a path with no exception since the acquisition.
    clean: bool,
    /// Open on a path through an exception; the earliest place that raised.
    raised: Option<Span>,
    /// Used (a method called, passed along) since it was acquired, on
    /// some path: from then on any raise leaves it open.
    engaged: bool,
}

impl Open {
    fn is_open(self) -> bool {
        self.clean || self.raised.is_some()
    }

    fn join(&mut self, other: Open) -> bool {
        let before = *self;
        self.clean |= other.clean;
        self.engaged |= other.engaged;
        self.raised = match (self.raised, other.raised) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        *self != before
    }

    /// The facts after an exception at `span`; `touched`: the raising
    /// operation used this resource. An exception before the resource was
    /// ever used is not blamed on it.
    fn raise_at(self, span: Span, touched: bool) -> Open {
        if !self.is_open() {
            return self;
        }
        if self.clean && self.raised.is_none() && !self.engaged && !touched {
            return Open::default();
        }
        let raised = match self.raised {
            Some(r) if !self.clean => r,
            Some(r) => r.min(span),
            None => span,
        };
        Open {
            clean: false,
            raised: Some(raised),
            engaged: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct State {
    /// Variable -> the sites it may hold (sorted).
    holds: Vec<Vec<SiteId>>,
    open: Vec<Open>,
}

impl State {
    fn new(vars: usize, sites: usize) -> State {
        State {
            holds: vec![Vec::new(); vars],
            open: vec![Open::default(); sites],
        }
    }

    fn join(&mut self, other: &State) -> bool {
        let mut changed = false;
        for (mine, theirs) in self.holds.iter_mut().zip(&other.holds) {
            for s in theirs {
                if let Err(i) = mine.binary_search(s) {
                    mine.insert(i, *s);
                    changed = true;
                }
            }
        }
        for (mine, theirs) in self.open.iter_mut().zip(&other.open) {
            changed |= mine.join(*theirs);
        }
        changed
    }

    fn raised_at(&self, event: &Event) -> State {
        let mut s = self.clone();
        let touched: Vec<SiteId> = event
            .touches
            .iter()
            .flat_map(|v| self.holds[*v].iter().copied())
            .collect();
        for (site, o) in s.open.iter_mut().enumerate() {
            *o = o.raise_at(event.span, touched.contains(&site));
        }
        s
    }

    fn engage(&mut self, event: &Event) {
        for v in &event.touches {
            for &site in &self.holds[*v] {
                if self.open[site].is_open() {
                    self.open[site].engaged = true;
                }
            }
        }
    }

    fn held_elsewhere(&self, site: SiteId, except: VarId) -> bool {
        self.holds
            .iter()
            .enumerate()
            .any(|(v, h)| v != except && h.contains(&site))
    }
}

pub use crate::ir::{Leak, LeakPath, Outcome};

#[derive(Default)]
struct Findings {
    engaged: Vec<bool>,
    /// Per site: how it leaked, and the first overwrite span per kind.
    clean: Vec<Option<Option<Span>>>,
    raised: Vec<Option<(Span, Option<Span>)>>,
    released: Vec<Vec<Span>>,
    returned: Vec<SiteId>,
    stored: Vec<SiteId>,
    open_at_acquire: Vec<(SiteId, Span, Vec<SiteId>)>,
}

/// Applies one event to `state`; records overwrites, releases and returns
/// in `out` when given (the final pass), not while iterating.
fn transfer(
    state: &mut State,
    event: &Event,
    sites_parent: &dyn Fn(SiteId) -> Option<SiteId>,
    sites_drop_releases: &dyn Fn(SiteId) -> bool,
    mut out: Option<&mut Findings>,
) {
    let lose =
        |state: &mut State, var: VarId, keep: Option<SiteId>, out: &mut Option<&mut Findings>| {
            for site in std::mem::take(&mut state.holds[var]) {
                if Some(site) == keep || state.held_elsewhere(site, var) {
                    continue;
                }
                let open = state.open[site];
                if let Some(out) = out.as_deref_mut() {
                    if open.clean {
                        out.clean[site].get_or_insert(Some(event.span));
                    }
                    if let Some(r) = open.raised {
                        out.raised[site].get_or_insert((r, Some(event.span)));
                    }
                }
                state.open[site] = Open::default();
            }
        };
    match &event.kind {
        EventKind::Acquire { dst, site } => {
            // A second acquisition at the same site while the first is
            // open and held by nobody else loses the first.
            let previous = state.open[*site];
            if previous.is_open() && !state.held_elsewhere(*site, *dst) {
                if let Some(out) = out.as_deref_mut() {
                    out.engaged[*site] |= previous.engaged;
                    if previous.clean {
                        out.clean[*site].get_or_insert(Some(event.span));
                    }
                    if let Some(r) = previous.raised {
                        out.raised[*site].get_or_insert((r, Some(event.span)));
                    }
                }
            }
            lose(state, *dst, Some(*site), &mut out);
            state.holds[*dst] = vec![*site];
            state.open[*site] = Open {
                clean: true,
                raised: None,
                engaged: false,
            };
        }
        EventKind::Release { var } | EventKind::Guard { var } => {
            let mut released = state.holds[*var].clone();
            // Children (cursors of a connection) go with their parent.
            let mut i = 0;
            while i < released.len() {
                let parent = released[i];
                let children: Vec<SiteId> = (0..state.open.len())
                    .filter(|&c| sites_parent(c) == Some(parent) && !released.contains(&c))
                    .collect();
                released.extend(children);
                i += 1;
            }
            for site in released {
                if let Some(out) = out.as_deref_mut() {
                    if state.open[site].is_open() && !out.released[site].contains(&event.span) {
                        out.released[site].push(event.span);
                    }
                }
                state.open[site] = Open::default();
            }
        }
        EventKind::Escape { var, returned } => {
            for &site in &state.holds[*var] {
                if state.open[site].is_open() {
                    if let Some(out) = out.as_deref_mut() {
                        let list = if *returned {
                            &mut out.returned
                        } else {
                            &mut out.stored
                        };
                        if !list.contains(&site) {
                            list.push(site);
                        }
                    }
                }
                state.open[site] = Open::default();
            }
        }
        EventKind::Copy { dst, src } => {
            if dst != src {
                let held = state.holds[*src].clone();
                // Sites `src` holds are not lost by overwriting `dst`.
                for s in &held {
                    if state.holds[*dst].contains(s) {
                        state.holds[*dst].retain(|x| x != s);
                    }
                }
                lose(state, *dst, None, &mut out);
                state.holds[*dst] = held;
            }
        }
        EventKind::Clear { dst } => lose(state, *dst, None, &mut out),
        EventKind::Drop { var } => {
            // RAII values are released by the drop (children with them);
            // the rest are lost with their last reference.
            let (raii, other): (Vec<SiteId>, Vec<SiteId>) = state.holds[*var]
                .iter()
                .partition(|&&s| sites_drop_releases(s));
            state.holds[*var] = other;
            for site in raii {
                if state.held_elsewhere(site, *var) {
                    continue;
                }
                state.open[site] = Open::default();
                for child in 0..state.open.len() {
                    if sites_parent(child) == Some(site) {
                        state.open[child] = Open::default();
                    }
                }
            }
            lose(state, *var, None, &mut out);
        }
        EventKind::AssumeNone { var } => {
            // No parent on this path means none of its children either
            // (`if conn: conn.close()` in a finally covers its cursors).
            for site in std::mem::take(&mut state.holds[*var]) {
                state.open[site] = Open::default();
                for child in 0..state.open.len() {
                    if sites_parent(child) == Some(site) {
                        state.open[child] = Open::default();
                    }
                }
            }
        }
        EventKind::Effect => {}
    }
}

/// Where an exception raised by `event` carries the state: after the
/// event for releases (a `close()` that raises has still given the
/// resource up), before it otherwise (a failed acquisition acquired
/// nothing).
fn releases(event: &Event) -> bool {
    matches!(
        event.kind,
        EventKind::Release { .. } | EventKind::Guard { .. }
    )
}

pub fn analyse(f: &Function) -> Outcome {
    let (nv, ns) = (f.var_names.len(), f.sites.len());
    if ns == 0 {
        // Nothing acquired, nothing to leak.
        return Outcome::default();
    }
    let parent_of = |s: SiteId| f.sites[s].parent;
    let drops = |s: SiteId| f.sites[s].drop_releases;
    let mut ins: Vec<Option<State>> = vec![None; f.blocks.len()];
    ins[f.entry] = Some(State::new(nv, ns));
    let mut queue: VecDeque<BlockId> = VecDeque::from([f.entry]);
    let mut queued = vec![false; f.blocks.len()];
    queued[f.entry] = true;
    let merge = |ins: &mut Vec<Option<State>>, to: BlockId, state: &State| -> bool {
        match &mut ins[to] {
            Some(existing) => existing.join(state),
            slot @ None => {
                *slot = Some(state.clone());
                true
            }
        }
    };
    while let Some(b) = queue.pop_front() {
        queued[b] = false;
        let Some(mut state) = ins[b].clone() else {
            continue;
        };
        let block = &f.blocks[b];
        let exc = block.exc.unwrap_or(f.raise_exit);
        // Consecutive raising events that touch nothing, with no state
        // change in between, send the same state to the handler (the
        // earliest raise wins), so only the first of them is propagated.
        let mut sent = false;
        for event in &block.events {
            if event.may_raise && !releases(event) && (!sent || !event.touches.is_empty()) {
                let raised = state.raised_at(event);
                if merge(&mut ins, exc, &raised) && !queued[exc] {
                    queued[exc] = true;
                    queue.push_back(exc);
                }
                sent = event.touches.is_empty();
            }
            if event.kind != EventKind::Effect {
                transfer(&mut state, event, &parent_of, &drops, None);
                sent = false;
            }
            if !event.touches.is_empty() {
                state.engage(event);
                sent = false;
            }
            if event.may_raise && releases(event) {
                let raised = state.raised_at(event);
                if merge(&mut ins, exc, &raised) && !queued[exc] {
                    queued[exc] = true;
                    queue.push_back(exc);
                }
            }
        }
        for &s in &block.succs {
            if merge(&mut ins, s, &state) && !queued[s] {
                queued[s] = true;
                queue.push_back(s);
            }
        }
    }

    // Final pass over the fixed point: overwrites, releases, returns.
    let mut found = Findings {
        clean: vec![None; ns],
        raised: vec![None; ns],
        released: vec![Vec::new(); ns],
        returned: Vec::new(),
        stored: Vec::new(),
        engaged: vec![false; ns],
        open_at_acquire: Vec::new(),
    };
    for (b, block) in f.blocks.iter().enumerate() {
        let Some(mut state) = ins[b].clone() else {
            continue;
        };
        for event in &block.events {
            if let EventKind::Acquire { site, .. } = event.kind {
                let open: Vec<SiteId> = (0..ns)
                    .filter(|&s| s != site && state.open[s].clean)
                    .collect();
                if !open.is_empty() {
                    found.open_at_acquire.push((site, event.span, open));
                }
            }
            transfer(&mut state, event, &parent_of, &drops, Some(&mut found));
            state.engage(event);
        }
    }
    for exit in [f.normal_exit, f.raise_exit] {
        if let Some(state) = &ins[exit] {
            for (site, open) in state.open.iter().enumerate() {
                if open.is_open() {
                    found.engaged[site] |= open.engaged;
                }
                if open.clean {
                    found.clean[site].get_or_insert(None);
                }
                if let Some(r) = open.raised {
                    let slot = found.raised[site].get_or_insert((r, None));
                    if r < slot.0 {
                        *slot = (r, None);
                    }
                }
            }
        }
    }
    let mut leaks = Vec::new();
    let released: Vec<SiteId> = (0..ns).filter(|s| !found.released[*s].is_empty()).collect();
    for site in 0..ns {
        let released_at = std::mem::take(&mut found.released[site]);
        if let Some(overwritten_at) = found.clean[site] {
            leaks.push(Leak {
                site,
                path: LeakPath::Normal,
                overwritten_at,
                released_at,
                engaged: found.engaged[site],
            });
        } else if let Some((raised_at, overwritten_at)) = found.raised[site] {
            leaks.push(Leak {
                site,
                path: LeakPath::OnError { raised_at },
                overwritten_at,
                released_at,
                engaged: found.engaged[site],
            });
        }
    }
    found.returned.sort_unstable();
    found.stored.sort_unstable();
    Outcome {
        leaks,
        returned: found.returned,
        released,
        stored: found.stored,
        open_at_acquire: found.open_at_acquire,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::Site;
    use crate::resources::ResourceKind;

    /// A tiny builder: straight-line blocks of events.
    struct B {
        f: Function,
    }

    impl B {
        fn new() -> B {
            B {
                f: Function::new("t", Span::empty_at(0)),
            }
        }
        fn site(&mut self, at: usize) -> SiteId {
            self.f.add_site(Site {
                span: Span::new(at, at + 1),
                type_name: "x.Conn".into(),
                kind: ResourceKind::Connection,
                var_name: "c".into(),
                parent: None,
                long_lived: false,
                drop_releases: false,
                origin: None,
                facts: Default::default(),
            })
        }
        fn ev(&mut self, b: BlockId, kind: EventKind, at: usize, may_raise: bool) {
            self.f.blocks[b].events.push(Event {
                kind,
                span: Span::new(at, at + 1),
                may_raise,
                touches: vec![0],
            });
        }
    }

    #[test]
    fn straight_line_close_is_clean_and_missing_close_is_lk101() {
        let mut b = B::new();
        let c = b.f.var("c");
        let s = b.site(1);
        let entry = b.f.entry;
        b.ev(entry, EventKind::Acquire { dst: c, site: s }, 1, true);
        b.ev(entry, EventKind::Effect, 2, true);
        let exit = b.f.normal_exit;
        b.f.edge(entry, exit);
        let out = analyse(&b.f);
        assert_eq!(out.leaks.len(), 1);
        assert_eq!(out.leaks[0].path, LeakPath::Normal);

        b.ev(entry, EventKind::Release { var: c }, 3, true);
        let out = analyse(&b.f);
        // Closed on success, open if the effect at 2 raised.
        assert_eq!(out.leaks.len(), 1);
        assert_eq!(
            out.leaks[0].path,
            LeakPath::OnError {
                raised_at: Span::new(2, 3)
            }
        );
        assert_eq!(out.leaks[0].released_at, vec![Span::new(3, 4)]);
    }

    #[test]
    fn finally_style_release_on_both_paths_is_clean() {
        let mut b = B::new();
        let c = b.f.var("c");
        let s = b.site(1);
        let (entry, exit, rexit) = (b.f.entry, b.f.normal_exit, b.f.raise_exit);
        let body = b.f.new_block();
        let fin_ok = b.f.new_block();
        let fin_err = b.f.new_block();
        b.ev(entry, EventKind::Acquire { dst: c, site: s }, 1, true);
        b.f.edge(entry, body);
        b.ev(body, EventKind::Effect, 2, true);
        b.f.blocks[body].exc = Some(fin_err);
        b.f.edge(body, fin_ok);
        b.ev(fin_ok, EventKind::Release { var: c }, 3, true);
        b.f.edge(fin_ok, exit);
        b.ev(fin_err, EventKind::Release { var: c }, 4, true);
        b.f.edge(fin_err, rexit);
        assert!(analyse(&b.f).leaks.is_empty());
    }

    #[test]
    fn none_checks_overwrites_and_returns() {
        let mut b = B::new();
        let c = b.f.var("c");
        let s = b.site(1);
        let (entry, exit) = (b.f.entry, b.f.normal_exit);
        // c = acquire(); c = None  -> lost at the overwrite.
        b.ev(entry, EventKind::Acquire { dst: c, site: s }, 1, false);
        b.ev(entry, EventKind::Clear { dst: c }, 5, false);
        b.f.edge(entry, exit);
        let out = analyse(&b.f);
        assert_eq!(out.leaks[0].overwritten_at, Some(Span::new(5, 6)));

        let mut b = B::new();
        let c = b.f.var("c");
        let d = b.f.var("d");
        let s = b.site(1);
        let (entry, exit) = (b.f.entry, b.f.normal_exit);
        b.ev(entry, EventKind::Acquire { dst: c, site: s }, 1, false);
        b.ev(entry, EventKind::Copy { dst: d, src: c }, 2, false);
        b.ev(entry, EventKind::Clear { dst: c }, 3, false);
        b.ev(
            entry,
            EventKind::Escape {
                var: d,
                returned: true,
            },
            4,
            false,
        );
        b.f.edge(entry, exit);
        let out = analyse(&b.f);
        assert!(out.leaks.is_empty(), "{out:?}");
        assert_eq!(out.returned, vec![s]);

        // if c is None: ...  (the None branch holds nothing)
        let mut b = B::new();
        let c = b.f.var("c");
        let s = b.site(1);
        let (entry, exit) = (b.f.entry, b.f.normal_exit);
        let yes = b.f.new_block();
        let no = b.f.new_block();
        b.ev(entry, EventKind::Acquire { dst: c, site: s }, 1, false);
        b.f.edge(entry, yes);
        b.f.edge(entry, no);
        b.ev(yes, EventKind::Release { var: c }, 2, false);
        b.ev(no, EventKind::AssumeNone { var: c }, 3, false);
        b.f.edge(yes, exit);
        b.f.edge(no, exit);
        assert!(analyse(&b.f).leaks.is_empty());
    }
}
