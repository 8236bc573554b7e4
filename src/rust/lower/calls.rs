//! Calls and method calls: acquisitions, releases, hand-overs, the
//! forget family, spawns, project helpers and pool probes.

use super::*;
use crate::resources::Vocabulary;

impl Lowerer<'_, '_> {
    // ---- calls ------------------------------------------------------

    pub(super) fn lower_args(
        &mut self,
        args: &syn::punctuated::Punctuated<syn::Expr, syn::Token![,]>,
    ) -> Vec<Out> {
        args.iter().map(|a| self.lower_expr(a)).collect()
    }

    pub(super) fn lower_call(&mut self, c: &syn::ExprCall, span: Span) -> Out {
        let path = match &*c.func {
            syn::Expr::Path(p) => Some(self.ctx.names.resolve(&p.path)),
            other => {
                self.lower_expr(other);
                None
            }
        };
        let Some(path) = path else {
            let args = self.lower_args(&c.args);
            for a in &args {
                self.pass_by_value(a, span);
            }
            return Out::none();
        };
        let segs: Vec<&str> = path.split("::").collect();
        let last = *segs.last().unwrap_or(&"");
        let owner = if segs.len() >= 2 {
            segs[segs.len() - 2]
        } else {
            ""
        };
        let func_span = self.span(&*c.func);
        let call_span = Span::new(func_span.start, span.end);

        let words = &self.ctx.knowledge.words;
        let vocab = self.ctx.knowledge.vocab;
        if words.spawn_functions.contains(path.as_str()) || (last == "spawn" && owner == "task") {
            let awaited = std::mem::take(&mut self.spawn_awaited);
            return self.lower_spawn(&c.args, call_span, awaited);
        }
        // An `.await` right after this call is not a spawn's.
        self.spawn_awaited = false;
        // Values that flow through wrappers unchanged.
        if c.args.len() == 1
            && (matches!(last, "Ok" | "Some")
                || (matches!(last, "new" | "pin") && Vocabulary::has(&vocab.value_wrappers, owner)))
        {
            return self.lower_expr(&c.args[0]);
        }
        let args = self.lower_args(&c.args);
        let arg_vars =
            |i: usize| -> Vec<VarId> { args.get(i).map(|a| a.vars()).unwrap_or_default() };
        let mem = matches!(segs.first(), Some(&"std") | Some(&"core")) && owner == "mem";
        if (mem || path == "drop") && last == "drop" {
            for v in arg_vars(0) {
                self.drop_var(v, call_span);
            }
            return Out::none();
        }
        if mem && last == "forget" || (owner == "Box" && last == "leak") {
            let how = if last == "forget" {
                "std::mem::forget"
            } else {
                "Box::leak"
            };
            for v in arg_vars(0) {
                for s in self.forgettable(v) {
                    self.f.sites[s]
                        .facts
                        .forgotten
                        .push((call_span, how.to_string()));
                }
            }
            self.hand_over(&arg_vars(0), call_span);
            return Out::none();
        }
        if (owner == "ManuallyDrop" && last == "new") || (owner == "Box" && last == "into_raw") {
            let how = format!("{owner}::{last}");
            let guards: Vec<SiteId> = arg_vars(0)
                .iter()
                .flat_map(|&v| self.forgettable(v))
                .collect();
            self.hand_over(&arg_vars(0), call_span);
            if let Some(&g) = guards.first() {
                let (kind, type_name) = (self.f.sites[g].kind, self.f.sites[g].type_name.clone());
                let site = self.new_site(
                    call_span,
                    &type_name,
                    kind,
                    Role::Detached {
                        call: call_span,
                        how,
                    },
                    false,
                    None,
                );
                let t = self.temp();
                let i = self.acquire_into(t, site, call_span);
                return Out {
                    val: Val::Var(t),
                    fresh: Some((self.cur, i)),
                    ..Out::default()
                };
            }
            return Out::none();
        }
        if (owner == "ManuallyDrop" && matches!(last, "into_inner" | "drop" | "take"))
            || (owner == "Box" && last == "from_raw")
        {
            for v in arg_vars(0) {
                self.emit(EventKind::Release { var: v }, call_span, false, vec![]);
            }
            return Out::none();
        }
        // Acquisitions by call.
        let acquires: Vec<(ResourceSpec, crate::resources::Acquire)> = self
            .ctx
            .knowledge
            .call_acquires(&path)
            .into_iter()
            .map(|(s, a)| (s.clone(), a.clone()))
            .collect();
        if !acquires.is_empty() {
            // A raw handle given by value to a call that makes an owning
            // resource of it (`Connection::from_handle_owned(db)`) is
            // handed over; anything else is used.
            for a in &args {
                for v in a.vars() {
                    if !a.by_ref && self.is_handle(v) {
                        self.hand_over(&[v], call_span);
                    } else {
                        self.touch(&[v], call_span);
                    }
                }
            }
            return self.acquire_from_call(&acquires, &args, call_span, None);
        }
        if let Some(i) = self.ctx.knowledge.call_releases(&path) {
            for v in arg_vars(i) {
                self.emit(EventKind::Release { var: v }, call_span, false, vec![]);
            }
            for (j, a) in args.iter().enumerate() {
                if j != i {
                    let vars = a.vars();
                    self.touch(&vars, call_span);
                }
            }
            return Out::none();
        }
        // A function of this file that acquires from the pool it is given.
        let key = if segs.len() >= 2
            && (owner == "Self" || owner.starts_with(|c: char| c.is_uppercase()))
        {
            let owner = if owner == "Self" {
                self.self_ty.clone().unwrap_or_default()
            } else {
                owner.to_string()
            };
            format!("{owner}::{last}")
        } else {
            last.to_string()
        };
        let origin = match self.ctx.acquires_from(&key) {
            Some(AcquiresFrom::Param(i)) => self.arg_origin(&c.args, i),
            _ => None,
        };
        let helper = self.helper_guard(&key);
        if let (Some(origin), None) = (&origin, &helper) {
            self.pool_probe(origin.clone(), Some(key.clone()), call_span);
        }
        // A constructor (`Wrapper::new(fd)`, `Handle(fd)`) takes what it
        // is given; any other function uses borrowed arguments and owns
        // the moved ones.
        let constructor = owner.starts_with(|c: char| c.is_uppercase())
            || (segs.len() == 1 && last.starts_with(|c: char| c.is_uppercase()));
        if !self.ctx.knowledge.words.read_methods.contains(last) {
            self.written_through(&args);
        }
        for a in &args {
            if constructor && !a.by_ref {
                let vars = a.vars();
                self.hand_over(&vars, call_span);
            } else {
                self.pass_by_value(a, call_span);
            }
        }
        let ty = self.ctx.returns(&key).or_else(|| {
            // `Type::new()` of a resource type, builder included.
            let type_part = segs[..segs.len().saturating_sub(1)].join("::");
            (segs.len() >= 2 && matches!(last, "new" | "default" | "builder"))
                .then(|| {
                    self.ctx
                        .knowledge
                        .spec_of_type(&type_part)
                        .map(|s| s.type_name.clone())
                })
                .flatten()
        });
        if let Some(spec) = helper {
            return self.acquire_from_helper(&spec, call_span, origin);
        }
        if let syn::Expr::Path(p) = &*c.func {
            if p.path.segments.len() >= 2 {
                let mut owner_path = p.path.clone();
                owner_path.segments.pop();
                self.rollback_guard_made(&owner_path, call_span);
            }
        }
        // A raw handle through a one-argument error checker (`cvt(fd)?`,
        // `check(libc::socket(..))`, the std/nix idiom) comes back as the
        // same handle. Other one-argument functions (`PQstatus(conn)`)
        // return something else.
        let vocab = self.ctx.knowledge.vocab;
        let checker = vocab
            .handle_checker_prefixes
            .iter()
            .any(|p| last.starts_with(p.as_str()))
            || Vocabulary::has(&vocab.handle_checkers, last);
        if checker && args.len() == 1 && !args[0].by_ref {
            if let Val::Var(v) = args[0].val {
                if self.is_handle(v) {
                    return Out {
                        val: Val::Var(v),
                        fresh: args[0].fresh,
                        ..Out::default()
                    };
                }
            }
        }
        if constructor
            && ty.is_none()
            && segs.len() >= 2
            && matches!(last, "new" | "from" | "default")
        {
            let type_part = segs[..segs.len() - 1].join("::");
            return Out::typed(Some(type_part));
        }
        Out::typed(ty)
    }

    /// The guards `v` holds, for the forget family: its sites, or the
    /// guard an owning parameter was given.
    pub(super) fn forgettable(&mut self, v: VarId) -> Vec<SiteId> {
        let sites = self.guard_sites(v);
        if !sites.is_empty() {
            return sites;
        }
        let Some((ty, span)) = self.owned_params.get(&v).cloned() else {
            return Vec::new();
        };
        let Some(spec) = self.ctx.knowledge.spec_of_type(&ty).cloned() else {
            return Vec::new();
        };
        if !is_guard(spec.kind) || spec.long_lived || spec.must_poll {
            return Vec::new();
        }
        let site = self.guard_site(&spec, span, None);
        self.f.sites[site].var_name = self.display_name(v);
        vec![site]
    }

    /// A site for a guard of `spec` this function did not acquire through
    /// the knowledge files (an owned parameter, a project helper's result).
    fn guard_site(&mut self, spec: &ResourceSpec, span: Span, origin: Option<String>) -> SiteId {
        self.new_site(
            span,
            &spec.type_name,
            spec.kind,
            Role::Resource {
                pooled: spec.pooled,
                must_poll: false,
            },
            spec.drop_releases,
            origin,
        )
    }

    pub(super) fn guard_sites(&self, v: VarId) -> Vec<SiteId> {
        self.sites_of(v)
            .into_iter()
            .filter(|&s| {
                matches!(
                    self.f.sites[s].facts.role,
                    Role::Resource {
                        must_poll: false,
                        ..
                    }
                ) && is_guard(self.f.sites[s].kind)
            })
            .collect()
    }

    /// The guard a project function returns as a value of its own
    /// (`fn conn(&self) -> PooledConnection<..>`, `fn begin(..) ->
    /// Result<Transaction<..>>`): calling it acquires one.
    pub(super) fn helper_guard(&self, key: &str) -> Option<Vec<Option<ResourceSpec>>> {
        let ret = self.ctx.returns_owned(key)?;
        let guard = |t: &str| {
            self.ctx
                .knowledge
                .spec_of_type(t)
                .filter(|spec| is_guard(spec.kind) && !spec.long_lived && !spec.must_poll)
                .cloned()
        };
        // A tuple (`(Transaction, Uuid)`): one slot per element.
        match ret.strip_prefix('(').and_then(|r| r.strip_suffix(')')) {
            Some(elements) => {
                let slots: Vec<Option<ResourceSpec>> = elements.split(',').map(guard).collect();
                slots.iter().any(Option::is_some).then_some(slots)
            }
            None => guard(&ret).map(|spec| vec![Some(spec)]),
        }
    }

    /// A fresh guard from a project helper, from the pool the helper
    /// acquires from (when its summary says).
    pub(super) fn acquire_from_helper(
        &mut self,
        slots: &[Option<ResourceSpec>],
        span: Span,
        origin: Option<String>,
    ) -> Out {
        if let [Some(spec)] = slots {
            return self.acquire_one_from_helper(spec, span, origin);
        }
        let mut parts = Vec::new();
        let mut fresh = None;
        for slot in slots {
            match slot {
                Some(spec) => {
                    let out = self.acquire_one_from_helper(spec, span, origin.clone());
                    fresh = fresh.or(out.fresh);
                    parts.push(out.val);
                }
                None => parts.push(Val::None),
            }
        }
        Out {
            val: Val::Tuple(parts),
            fresh,
            ..Out::default()
        }
    }

    pub(super) fn acquire_one_from_helper(
        &mut self,
        spec: &ResourceSpec,
        span: Span,
        origin: Option<String>,
    ) -> Out {
        let site = self.guard_site(spec, span, origin);
        let t = self.temp();
        let i = self.acquire_into(t, site, span);
        self.var_ty.insert(t, spec.type_name.clone());
        Out {
            val: Val::Var(t),
            ty: Some(spec.type_name.clone()),
            fresh: Some((self.cur, i)),
            by_ref: false,
        }
    }

    /// A probe for LK204: the callee acquires from `origin`.
    pub(super) fn pool_probe(&mut self, origin: String, callee: Option<String>, span: Span) {
        let site = self.new_site(
            span,
            "pooled connection",
            ResourceKind::Connection,
            Role::PoolCall { callee },
            true,
            Some(origin),
        );
        let t = self.temp();
        self.acquire_into(t, site, span);
        self.drop_var(t, span);
    }

    /// The sites an acquiring call or method makes, bound to a temporary
    /// (or a tuple of them, or written through an `&mut` argument).
    pub(super) fn acquire_from_call(
        &mut self,
        acquires: &[(ResourceSpec, crate::resources::Acquire)],
        args: &[Out],
        span: Span,
        origin: Option<String>,
    ) -> Out {
        let mut tuple: Vec<Val> = Vec::new();
        let mut single: Option<Out> = None;
        let mut first_event: Option<(BlockId, usize)> = None;
        // One resource per result slot: a bare `Pool` several crates
        // declare gives its first match, not one site per crate.
        let mut slots_seen: Vec<Option<usize>> = Vec::new();
        for (spec, acq) in acquires {
            if slots_seen.contains(&acq.element) {
                continue;
            }
            slots_seen.push(acq.element);
            let tracked =
                is_guard(spec.kind) || spec.kind == ResourceKind::Handle || spec.must_poll;
            let role = Role::Resource {
                pooled: spec.pooled,
                must_poll: spec.must_poll,
            };
            let mut slot = Out::typed(Some(spec.type_name.clone()));
            if tracked {
                let site = self.new_site(
                    span,
                    &spec.type_name,
                    spec.kind,
                    role,
                    spec.drop_releases,
                    origin.clone(),
                );
                let dst = match acq.out_arg {
                    Some(i) => match args.get(i).map(|a| a.vars()) {
                        Some(vs) if !vs.is_empty() => vs[0],
                        _ => continue,
                    },
                    None => self.temp(),
                };
                let i = self.acquire_into(dst, site, span);
                first_event.get_or_insert((self.cur, i));
                if acq.out_arg.is_some() {
                    continue;
                }
                slot.val = Val::Var(dst);
                if let Some(t) = self
                    .var_ty
                    .get(&dst)
                    .cloned()
                    .or(Some(spec.type_name.clone()))
                {
                    self.var_ty.insert(dst, t);
                }
            }
            match acq.element {
                Some(i) => {
                    if tuple.len() <= i {
                        tuple.resize(i + 1, Val::None);
                    }
                    tuple[i] = slot.val;
                }
                None => {
                    single.get_or_insert(slot);
                }
            }
        }
        let mut parts = Vec::new();
        for p in &tuple {
            p.vars(&mut parts);
        }
        let part_sites: Vec<SiteId> = parts.iter().flat_map(|&v| self.sites_of(v)).collect();
        for &a in &part_sites {
            for &b in &part_sites {
                if a != b {
                    self.f.sites[a].facts.siblings.push(b);
                }
            }
        }
        let mut out = match single {
            Some(out) if tuple.is_empty() => out,
            _ if !tuple.is_empty() => Out {
                val: Val::Tuple(tuple),
                ..Out::default()
            },
            _ => Out::none(),
        };
        out.fresh = first_event;
        out
    }

    pub(super) fn lower_spawn(
        &mut self,
        args: &syn::punctuated::Punctuated<syn::Expr, syn::Token![,]>,
        span: Span,
        awaited: bool,
    ) -> Out {
        let mut moved: Vec<VarId> = Vec::new();
        for arg in args {
            match arg {
                syn::Expr::Async(a) => {
                    moved.extend(self.lower_nested(Body::Block(&a.block), None, true, span, true));
                }
                syn::Expr::Closure(c) => {
                    moved.extend(self.lower_nested(
                        Body::Expr(&c.body),
                        Some(&c.inputs),
                        true,
                        span,
                        c.asyncness.is_some(),
                    ));
                }
                other => {
                    let out = self.lower_expr(other);
                    let vars = out.vars();
                    self.hand_over(&vars, span);
                    moved.extend(vars);
                }
            }
        }
        let handle = self.temp();
        if let Some(ctx) = self.loops.last() {
            let (loop_id, depth) = (ctx.id, self.loops.len());
            let sites: Vec<SiteId> = moved
                .iter()
                .flat_map(|&v| self.guard_sites(v))
                .filter(|&s| self.site_loop[s].is_some_and(|(_, d)| d >= depth))
                .collect();
            if !sites.is_empty() && !awaited {
                self.handle_of.insert(handle, self.pending.len());
                self.pending.push(PendingSpawn {
                    sites,
                    span,
                    loop_id,
                    resolved: false,
                });
            }
        }
        Out {
            val: Val::Var(handle),
            ..Out::default()
        }
    }

    /// A client awaited while the connection that drives it has not been
    /// spawned yet (in source order): the await never completes.
    pub(super) fn note_early_await(&mut self, touched_from: usize, span: Span) {
        let touched: Vec<VarId> = self.stmt_touched[touched_from..].to_vec();
        for v in touched {
            for s in self.sites_of(v) {
                let drivers: Vec<SiteId> = self.f.sites[s]
                    .facts
                    .siblings
                    .iter()
                    .copied()
                    .filter(|&b| self.f.sites[b].facts.role.must_poll())
                    .collect();
                for d in drivers {
                    let awaited = &mut self.f.sites[d].facts.awaited_before_polled;
                    if !self.polled.contains(&d) && awaited.is_empty() {
                        awaited.push(span);
                    }
                }
            }
        }
    }

    /// A task handle awaited or joined: its task ended within the
    /// iteration.
    pub(super) fn resolve_spawn(&mut self, v: VarId) {
        if let Some(&i) = self.handle_of.get(&v) {
            if self.loops.iter().any(|l| l.id == self.pending[i].loop_id) {
                self.pending[i].resolved = true;
            }
        }
    }

    pub(super) fn lower_method(&mut self, m: &syn::ExprMethodCall, span: Span) -> Out {
        let method = m.method.to_string();
        if method == "spawn"
            && m.args
                .iter()
                .any(|a| matches!(a, syn::Expr::Async(_) | syn::Expr::Closure(_)))
        {
            let recv = self.lower_expr(&m.receiver);
            let vars = recv.vars();
            self.touch(&vars, span);
            let awaited = std::mem::take(&mut self.spawn_awaited);
            return self.lower_spawn(&m.args, span, awaited);
        }
        if method == "join" && is_spawn_expr(&m.receiver, self.ctx) {
            self.spawn_awaited = true;
        }
        let recv = self.lower_expr(&m.receiver);
        let recv_vars = recv.vars();
        let words = &self.ctx.knowledge.words;
        if words.passthrough_methods.contains(method.as_str()) {
            self.lower_args(&m.args);
            return recv;
        }
        if words.clone_methods.contains(method.as_str()) {
            // A clone of a pool is the same kind of pool.
            self.lower_args(&m.args);
            let vars = recv.vars();
            self.touch(&vars, span);
            return Out::typed(recv.ty);
        }
        if words.borrow_methods.contains(method.as_str()) {
            return Out {
                by_ref: true,
                fresh: None,
                ..recv
            };
        }
        if method == "join" {
            for &v in &recv_vars {
                self.resolve_spawn(v);
            }
        }
        let args = self.lower_args(&m.args);
        // Must-poll values are consumed by any method (combinators).
        for &v in &recv_vars {
            if self.must_poll(v) {
                self.hand_over(&[v], span);
            }
        }
        // Releases: a method on the resource itself, or on a receiver
        // holding state (a mongodb session's transaction).
        let mut released = false;
        for &v in &recv_vars {
            if self.released_by_method(v, &method) {
                self.emit(EventKind::Release { var: v }, span, false, vec![]);
                released = true;
            }
            for p in self.on_receiver.get(&v).cloned().unwrap_or_default() {
                if self.released_by_method(p, &method) {
                    self.emit(EventKind::Release { var: p }, span, false, vec![]);
                }
            }
        }
        if !released {
            self.touch(&recv_vars, span);
        }
        // Collections and channels keep what they are given; a guard of
        // this iteration kept by a collection from outside the loop
        // outlives it.
        let words = &self.ctx.knowledge.words;
        if words.store_methods.contains(method.as_str()) {
            let outside = match &recv.val {
                Val::Var(v) => self.var_depth.get(v).copied().unwrap_or(0) < self.loops.len(),
                _ => true,
            };
            for a in &args {
                let vars = a.vars();
                if words.collect_methods.contains(method.as_str())
                    && outside
                    && !self.loops.is_empty()
                {
                    let depth = self.loops.len();
                    for &v in &vars {
                        for s in self.guard_sites(v) {
                            if self.site_loop[s].is_some_and(|(_, d)| d >= depth) {
                                let facts = &mut self.f.sites[s].facts;
                                facts.outlives_loop.push((span, Outlives::Collected));
                            }
                        }
                    }
                }
                if a.by_ref {
                    self.touch(&vars, span);
                } else {
                    self.hand_over(&vars, span);
                }
            }
            return Out::none();
        }
        for a in &args {
            self.pass_by_value(a, span);
        }
        // Reads write nothing; write APIs are judged with their SQL at the
        // end of the statement; anything else may write.
        if !words.read_methods.contains(method.as_str())
            && !words.write_methods.contains(method.as_str())
        {
            self.written_through(&args);
        }
        // A query run directly on a pool takes a connection from it.
        if words.executor_methods.contains(method.as_str()) {
            for (arg, out) in m.args.iter().zip(&args) {
                let on_pool = out.ty.as_deref().is_some_and(|t| {
                    self.ctx
                        .knowledge
                        .spec_of_type(t)
                        .is_some_and(|s| s.kind == ResourceKind::Pool)
                });
                if on_pool {
                    let origin = self.origin_of(self.text(self.span(arg)));
                    let at = self.span(arg);
                    self.pool_probe(origin, None, at);
                }
            }
        }
        // The receiver's text is wanted only for pools; long method chains
        // must not copy it at every link.
        let source = self.ctx.source;
        let recv_text = || {
            let recv_span = span_of(source, &*m.receiver);
            source.text.get(recv_span.range()).unwrap_or("").to_string()
        };
        // The whole call, receiver included: where a site is reported.
        // Computed only when one is made (it walks the receiver chain).
        let full = || span_of(source, m);
        // A method of this file that acquires from `self.<pool>` or from
        // the pool it is given.
        if let Some(owner) = recv
            .ty
            .as_deref()
            .map(|t| t.rsplit("::").next().unwrap_or(t).to_string())
        {
            let key = format!("{owner}::{method}");
            let origin = match self.ctx.acquires_from(&key) {
                Some(AcquiresFrom::SelfField(field)) if recv_text().trim() == "self" => Some(field),
                Some(AcquiresFrom::Param(i)) => self.arg_origin(&m.args, i),
                _ => None,
            };
            if let Some(spec) = self.helper_guard(&key) {
                // A helper method that returns a fresh guard.
                return self.acquire_from_helper(&spec, full(), origin);
            }
            if let Some(origin) = origin {
                self.pool_probe(origin, Some(key), full());
            }
        }
        // Acquisitions on a typed receiver.
        let on_type = recv.ty.clone().unwrap_or_default();
        let acquires: Vec<(ResourceSpec, crate::resources::Acquire)> = self
            .ctx
            .knowledge
            .method_acquires(&method, &on_type)
            .into_iter()
            .filter(|(_, a)| recv.ty.is_some() || a.on.as_deref() == Some("*"))
            .map(|(s, a)| (s.clone(), a.clone()))
            .collect();
        let acquires = if acquires.is_empty() {
            self.through_pooled_guard(&method, recv.ty.as_deref())
        } else {
            acquires
        };
        // A method given a closure scopes the resource to it (diesel's and
        // sqlx's `conn.transaction(|tx| ..)` commit or roll back
        // themselves): nothing is handed to this function.
        let acquires = if m.args.iter().any(|a| matches!(a, syn::Expr::Closure(_))) {
            Vec::new()
        } else {
            acquires
        };
        if !acquires.is_empty() {
            let from_pool = self
                .ctx
                .knowledge
                .spec_of_type(&on_type)
                .is_some_and(|s| s.kind == ResourceKind::Pool);
            let origin = from_pool.then(|| self.origin_of(&recv_text()));
            if let (Some((spec, acq)), Some(&rv)) = (acquires.first(), recv_vars.first()) {
                if acq.into_receiver {
                    // The state lives on the receiver: a pseudo variable
                    // of it holds the site.
                    let name = format!("{}#{}", self.display_name(rv), spec.type_name);
                    let pseudo = self.fresh_var(&name);
                    let site = self.new_site(
                        full(),
                        &spec.type_name,
                        spec.kind,
                        Role::Resource {
                            pooled: false,
                            must_poll: false,
                        },
                        spec.drop_releases,
                        None,
                    );
                    self.f.sites[site].var_name = self.display_name(rv);
                    self.acquire_into(pseudo, site, full());
                    self.on_receiver.entry(rv).or_default().push(pseudo);
                    return Out::none();
                }
            }
            let mut out = self.acquire_from_call(&acquires, &args, full(), origin);
            if let Val::Var(t) = out.val {
                // Children go with their parent (a transaction of a
                // connection).
                if let Some(&rv) = recv_vars.first() {
                    if let (Some(&parent), Some(&child)) =
                        (self.sites_of(rv).first(), self.sites_of(t).first())
                    {
                        if parent != child {
                            self.f.sites[child].parent = Some(parent);
                        }
                    }
                }
            }
            if out.ty.is_none() {
                out.ty = acquires.first().map(|(s, _)| s.type_name.clone());
            }
            return out;
        }
        // Builders return themselves.
        if let Some(spec) = recv
            .ty
            .as_deref()
            .and_then(|t| self.ctx.knowledge.spec_of_type(t))
        {
            if spec.builder {
                return Out::typed(recv.ty.clone());
            }
        }
        let ty = recv.ty.as_deref().and_then(|t| {
            let owner = t.rsplit("::").next().unwrap_or(t);
            self.ctx.returns(&format!("{owner}::{method}"))
        });
        Out::typed(ty)
    }

    /// The pool argument `i` of a call names.
    fn arg_origin(
        &self,
        args: &syn::punctuated::Punctuated<syn::Expr, syn::Token![,]>,
        i: usize,
    ) -> Option<String> {
        args.iter()
            .nth(i)
            .map(|arg| self.origin_of(self.text(self.span(arg))))
    }

    /// Whether `method` releases a resource `v` may hold, by its spec.
    fn released_by_method(&self, v: VarId, method: &str) -> bool {
        self.sites_of(v).iter().any(|&s| {
            self.ctx
                .knowledge
                .spec_named(&self.f.sites[s].type_name)
                .is_some_and(|spec| {
                    spec.release
                        .iter()
                        .any(|r| r.method.as_deref() == Some(method))
                })
        })
    }

    /// A pooled guard derefs to its connection: a method the guard type
    /// does not have is looked up on the connection types, when every
    /// connection type that has it gives the same kind of resource
    /// (`transaction()` on an r2d2 `PooledConnection`).
    pub(super) fn through_pooled_guard(
        &self,
        method: &str,
        recv_ty: Option<&str>,
    ) -> Vec<(ResourceSpec, crate::resources::Acquire)> {
        let knowledge = self.ctx.knowledge;
        let Some(guard) = recv_ty.and_then(|t| knowledge.spec_of_type(t)) else {
            return Vec::new();
        };
        if !guard.pooled {
            return Vec::new();
        }
        let found: Vec<(ResourceSpec, crate::resources::Acquire)> = knowledge
            .specs()
            .flat_map(|s| s.acquire.iter().map(move |a| (s, a)))
            .filter(|(_, a)| {
                a.method.as_deref() == Some(method)
                    && a.on.as_deref().is_some_and(|on| {
                        knowledge
                            .specs()
                            .find(|s| s.is_type(on))
                            .is_some_and(|s| s.kind == ResourceKind::Connection && !s.pooled)
                    })
            })
            .map(|(s, a)| (s.clone(), a.clone()))
            .collect();
        match found.first() {
            Some((first, _)) if found.iter().all(|(s, _)| s.kind == first.kind) => {
                vec![found[0].clone()]
            }
            _ => Vec::new(),
        }
    }
}
