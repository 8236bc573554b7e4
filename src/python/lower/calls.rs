//! Expressions and calls: what a call acquires, releases, guards or hands
//! over, and which resources it uses (for blaming a raise).

use tree_sitter::Node;

use super::{span, GenMode, Lowerer};
use crate::ir::CallFact;
use crate::ir::{EventKind, SiteId, VarId};
use crate::python::argument_value;
use crate::resources::Vocabulary;
use crate::resources::{ResourceKind, ResourceSpec};

/// Whether a method stores its arguments: the known container methods, and
/// registries by their names (`reaper.add_engine(e)`, `track_pool(p)`).
fn is_storing(vocabulary: &Vocabulary, method: &str) -> bool {
    Vocabulary::has(&vocabulary.storing_methods, method)
        || Vocabulary::starts(&vocabulary.storing_prefixes, method)
}

impl<'c, 'a, 't> Lowerer<'c, 'a, 't> {
    /// The tracked variables a call uses: its receiver (`conn.execute()`,
    /// `conn.cursor().execute()`) and its arguments.
    pub(super) fn call_touches(&self, call: Node) -> Vec<VarId> {
        let mut out = Vec::new();
        // A nested helper called by name uses what it captured.
        if let Some(f) = call
            .child_by_field_name("function")
            .filter(|f| f.kind() == "identifier")
        {
            if let Some(vars) = self.local_helpers.get(self.text(f)) {
                out.extend(vars.iter().copied());
            }
        }
        // The receiver: `conn.execute()`, or through calls made on it,
        // `conn.cursor().execute()`. Through attributes and subscripts
        // only where the spec says they are sub-objects (`derived`:
        // `client.shop.orders.find_one()`); in `conn.encoders.pop(k)` the
        // connection itself is not used.
        let mut receiver = call
            .child_by_field_name("function")
            .filter(|f| f.kind() == "attribute")
            .and_then(|f| f.child_by_field_name("object"));
        let mut through: Vec<&str> = Vec::new();
        while let Some(r) = receiver {
            match r.kind() {
                "call" => {
                    receiver = r
                        .child_by_field_name("function")
                        .filter(|f| f.kind() == "attribute")
                        .and_then(|f| f.child_by_field_name("object"));
                }
                "attribute" => {
                    through.extend(r.child_by_field_name("attribute").map(|a| self.text(a)));
                    receiver = r.child_by_field_name("object");
                }
                "subscript" => {
                    through.push("[]");
                    receiver = r.child_by_field_name("value");
                }
                _ => {
                    let derived_ok = through.is_empty()
                        || self.spec_of_var(self.text(r)).is_some_and(|s| {
                            s.derived.iter().any(|d| d == "*")
                                || (through.len() == 1 && s.derived.iter().any(|d| d == through[0]))
                        });
                    if derived_ok {
                        out.extend(self.tracked(r));
                    }
                    break;
                }
            }
        }
        if let Some(args) = call.child_by_field_name("arguments") {
            let mut cursor = args.walk();
            for a in args.named_children(&mut cursor) {
                let a = Some(argument_value(a));
                // Handing a lazy resource (an engine) to a function does not
                // open anything by itself.
                let lazy =
                    a.is_some_and(|a| self.spec_of_var(self.text(a)).is_some_and(|s| s.lazy));
                if let Some(v) = a.and_then(|a| self.tracked(a)).filter(|_| !lazy) {
                    out.push(v);
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }
    /// Tracked names in value positions of `node` (tuple items, constructor
    /// arguments, conditional branches) escape.
    pub(super) fn escape_values(&mut self, node: Node<'t>, returned: bool) {
        if let Some(v) = self.tracked(node) {
            self.hand_over(v, span(node), returned);
            return;
        }
        match node.kind() {
            "expression_list"
            | "tuple"
            | "list"
            | "set"
            | "parenthesized_expression"
            | "conditional_expression"
            | "boolean_operator"
            | "await"
            | "pair"
            | "dictionary" => {
                let mut cursor = node.walk();
                let children: Vec<Node<'t>> = node.named_children(&mut cursor).collect();
                for c in children {
                    self.escape_values(c, returned);
                }
            }
            "call" if self.is_constructor(node) => self.escape_args(node),
            // `return client[name]`: the derived object (a database handle)
            // keeps the resource.
            "subscript" => {
                if let Some(root) = node.child_by_field_name("value") {
                    self.escape_values(root, returned);
                }
            }
            // `return client.mydb`: so does a client's attribute; a
            // connection's attribute (`conn.server_version`) is a value.
            "attribute" => {
                if let Some(root) = node.child_by_field_name("object") {
                    let client = self
                        .spec_of_var(self.text(root))
                        .is_some_and(|s| s.kind == ResourceKind::Client);
                    if client {
                        self.escape_values(root, returned);
                    }
                }
            }
            _ => {}
        }
    }

    /// Releases each tracked positional argument `i` that its spec says
    /// the call releases (`by_spec(release entry, i)`) or that `always(i)`
    /// marks; whether any was released.
    fn release_arguments(
        &mut self,
        positional: &[Node<'t>],
        at: crate::diagnostic::Span,
        by_spec: impl Fn(&crate::resources::Release, usize) -> bool,
        always: impl Fn(usize) -> bool,
    ) -> bool {
        let mut released = false;
        for (i, a) in positional.iter().enumerate() {
            let Some(v) = self.tracked(*a) else { continue };
            let spec_says = self
                .spec_of_var(self.text(*a))
                .is_some_and(|s| s.release.iter().any(|rel| by_spec(rel, i)));
            if spec_says || always(i) {
                self.emit(EventKind::Release { var: v }, at, true);
                released = true;
            }
        }
        released
    }

    /// Whether a call is taken not to raise: a quiet method of the tracked
    /// resource it is called on (`conn.cursor()`), or a quiet call
    /// (`setattr(conn, ...)`); a quiet `pop` only with its default
    /// (`os.environ.pop(k, None)`).
    pub(super) fn quiet_call(&self, call: Node, qualified: Option<&str>) -> bool {
        let Some(callee) = call.child_by_field_name("function") else {
            return false;
        };
        if callee.kind() == "attribute" {
            if let (Some(m), Some(r)) = (
                callee.child_by_field_name("attribute"),
                callee.child_by_field_name("object"),
            ) {
                let m = self.text(m);
                if self.tracked(r).is_some()
                    && self
                        .spec_of_var(self.text(r))
                        .is_some_and(|s| s.quiet_methods.iter().any(|q| q == m))
                {
                    return true;
                }
            }
        }
        let quiet_calls = &self.ctx.resources.vocabulary.quiet_calls;
        let qualified = qualified
            .map(str::to_string)
            .or_else(|| self.ctx.qualify(callee, self.class.as_deref()));
        let listed = qualified
            .as_deref()
            .is_some_and(|q| Vocabulary::has(quiet_calls, q))
            || (callee.kind() == "identifier"
                && !self.locals.contains_key(self.text(callee))
                && Vocabulary::has(quiet_calls, self.text(callee)));
        let needs_default = qualified.as_deref().is_some_and(|q| q.ends_with(".pop"));
        listed && (!needs_default || self.args(call).len() >= 2)
    }

    /// The simple name a call goes by: `f` for `f()`, `m` for `x.y.m()`.
    pub(super) fn callee_name(&self, callee: Node) -> &'a str {
        match callee.kind() {
            "identifier" => self.text(callee),
            "attribute" => callee
                .child_by_field_name("attribute")
                .map(|a| self.text(a))
                .unwrap_or(""),
            _ => "",
        }
    }

    pub(super) fn is_constructor(&self, call: Node) -> bool {
        let Some(callee) = call.child_by_field_name("function") else {
            return false;
        };
        let name = self.callee_name(callee);
        name.trim_start_matches('_')
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_uppercase())
            || Vocabulary::has(&self.ctx.resources.vocabulary.constructor_calls, name)
    }

    pub(super) fn escape_args(&mut self, call: Node<'t>) {
        let Some(args) = call.child_by_field_name("arguments") else {
            return;
        };
        if self
            .ctx
            .borrowing_call(call, &self.locals, self.attrs, self.class.as_deref())
        {
            return;
        }
        let mut cursor = args.walk();
        let children: Vec<Node<'t>> = args.named_children(&mut cursor).collect();
        for a in children {
            let a = argument_value(a);
            self.escape_values(a, false);
        }
    }

    // ---- expressions --------------------------------------------------

    pub(super) fn acquisition(&self, value: Node<'t>) -> Option<(&'a ResourceSpec, Node<'t>)> {
        self.ctx
            .acquisition(value, &self.locals, self.attrs, self.class.as_deref())
    }

    pub(super) fn expr(&mut self, node: Node<'t>) {
        match node.kind() {
            "call" => self.call(node, false),
            "await" => {
                let touches = match node.named_child(0) {
                    Some(inner) if inner.kind() == "call" => {
                        self.call(inner, true);
                        self.call_touches(inner)
                    }
                    Some(inner) => {
                        self.expr(inner);
                        self.tracked(inner).into_iter().collect()
                    }
                    None => Vec::new(),
                };
                self.emit_touching(EventKind::Effect, span(node), true, touches);
            }
            "yield" => self.yield_expr(node),
            "lambda" => self.capture(node),
            "named_expression" => {
                if let (Some(n), Some(v)) = (
                    node.child_by_field_name("name"),
                    node.child_by_field_name("value"),
                ) {
                    self.assign_name(n, v);
                }
            }
            "subscript" => {
                let mut cursor = node.walk();
                let children: Vec<Node<'t>> = node.named_children(&mut cursor).collect();
                for c in children {
                    self.expr(c);
                }
                self.effect(span(node));
            }
            "identifier" | "string_content" | "integer" | "float" | "true" | "false" | "none"
            | "comment" => {}
            "list" | "tuple" | "set" | "dictionary" => {
                let mut cursor = node.walk();
                let children: Vec<Node<'t>> = node.named_children(&mut cursor).collect();
                for c in children {
                    self.expr(c);
                }
            }
            _ => {
                let mut cursor = node.walk();
                let children: Vec<Node<'t>> = node.named_children(&mut cursor).collect();
                for c in children {
                    self.expr(c);
                }
            }
        }
    }

    pub(super) fn yield_expr(&mut self, node: Node<'t>) {
        let value = node.named_child(0);
        let at = span(node);
        match self.gen {
            GenMode::Loan { yield_raises } => {
                if let Some(value) = value {
                    if let Some((spec, call)) = self
                        .acquisition(value)
                        .filter(|(s, _)| s.kind != ResourceKind::Factory)
                    {
                        self.call_parts(call);
                        let v = self.temp_var();
                        let site = self.site(span(call), spec, "<yielded>");
                        self.emit_acquire(v, site, call, true);
                        self.yielded.push(site);
                    } else if self.tracked(value).is_some() {
                        let holds: Vec<SiteId> = self
                            .site_by_span
                            .values()
                            .copied()
                            .filter(|s| self.f.sites[*s].var_name == self.text(value))
                            .collect();
                        self.yielded.extend(holds);
                    } else if value.kind() == "identifier"
                        && self.scoped_names.iter().any(|n| n == self.text(value))
                    {
                        // `with SessionLocal() as db: yield db`
                        self.yields_scoped = true;
                    } else {
                        self.expr(value);
                    }
                }
                // The caller uses what is yielded: a raise thrown in at the
                // yield is blamed on it.
                let touches: Vec<VarId> = value.and_then(|v| self.tracked(v)).into_iter().collect();
                self.emit_touching(EventKind::Effect, at, yield_raises, touches);
            }
            _ => {
                if let Some(value) = value {
                    self.expr(value);
                    self.escape_values(value, false);
                }
                self.emit(EventKind::Effect, at, true);
            }
        }
    }

    /// Lowers what a call evaluates before it runs: the receiver and the
    /// arguments.
    pub(super) fn call_parts(&mut self, call: Node<'t>) {
        if let Some(callee) = call.child_by_field_name("function") {
            if callee.kind() == "attribute" {
                if let Some(o) = callee.child_by_field_name("object") {
                    self.expr(o);
                }
            } else if callee.kind() != "identifier" {
                self.expr(callee);
            }
        }
        if let Some(args) = call.child_by_field_name("arguments") {
            let mut cursor = args.walk();
            let children: Vec<Node<'t>> = args.named_children(&mut cursor).collect();
            for a in children {
                self.expr(argument_value(a));
            }
        }
    }

    pub(super) fn args(&self, call: Node<'t>) -> Vec<Node<'t>> {
        call.child_by_field_name("arguments")
            .map(|a| {
                let mut c = a.walk();
                a.named_children(&mut c).collect()
            })
            .unwrap_or_default()
    }

    pub(super) fn call(&mut self, call: Node<'t>, awaited: bool) {
        let at = span(call);
        let Some(callee) = call.child_by_field_name("function") else {
            self.call_parts(call);
            self.effect(at);
            return;
        };
        let method = (callee.kind() == "attribute")
            .then(|| {
                callee
                    .child_by_field_name("attribute")
                    .map(|a| self.text(a))
            })
            .flatten();
        // Handed to another task or thread: `create_task(worker(conn))`,
        // `executor.submit(work, conn)`. Whatever it mentions is its to
        // release.
        let spawn_name =
            method.or_else(|| (callee.kind() == "identifier").then(|| self.text(callee)));
        let vocabulary = &self.ctx.resources.vocabulary;
        if spawn_name.is_some_and(|m| Vocabulary::has(&vocabulary.spawning_calls, m)) {
            let mut mentioned = Vec::new();
            if let Some(args) = call.child_by_field_name("arguments") {
                crate::python::preorder(args, |n| {
                    if let Some(v) = self.tracked(n) {
                        mentioned.push(v);
                    }
                    true
                });
            }
            for v in mentioned {
                self.hand_over(v, at, false);
            }
        }
        self.call_parts(call);
        let args = self.args(call);
        let positional: Vec<Node<'t>> = args
            .iter()
            .copied()
            .filter(|a| a.kind() != "keyword_argument")
            .collect();
        let qualified = self.ctx.qualify(callee, self.class.as_deref());
        let receiver = (callee.kind() == "attribute")
            .then(|| callee.child_by_field_name("object"))
            .flatten();

        // Guards: closing(x), stack.enter_context(x), stack.callback(x.close).
        let guard_call = qualified
            .as_deref()
            .is_some_and(|q| Vocabulary::has(&vocabulary.guard_calls, q))
            || method.is_some_and(|m| Vocabulary::has(&vocabulary.guard_methods, m));
        if guard_call {
            for a in &positional {
                let target = if a.kind() == "attribute" {
                    a.child_by_field_name("object").unwrap_or(*a)
                } else {
                    *a
                };
                if let Some(v) = self.tracked(target) {
                    self.emit(EventKind::Guard { var: v }, at, false);
                }
            }
            self.effect(at);
            return;
        }

        // Entered by hand (`await conn.__aenter__()`): whoever enters a
        // context manager manually pairs it with `__aexit__` elsewhere, as a
        // pool's acquire/release pair does.
        if let (Some("__enter__" | "__aenter__"), Some(r)) = (method, receiver) {
            if let Some(v) = self.tracked(r) {
                self.hand_over(v, at, false);
            }
        }

        // A bound release method handed on (`atexit.register(conn.close)`,
        // `self.addCleanup(conn.close)`): whoever receives it will call it.
        for a in &args {
            let a = argument_value(*a);
            if a.kind() != "attribute" {
                continue;
            }
            let attr = a
                .child_by_field_name("attribute")
                .map(|n| self.text(n))
                .unwrap_or("");
            if let Some(v) = a
                .child_by_field_name("object")
                .and_then(|o| self.tracked(o))
            {
                if Vocabulary::has(&self.ctx.resources.vocabulary.release_methods, attr) {
                    self.emit(EventKind::Guard { var: v }, at, false);
                }
            }
        }

        // `next(gen())`: a dependency generator whose cleanup never runs.
        if qualified.is_none()
            && callee.kind() == "identifier"
            && Vocabulary::has(&vocabulary.advancing_calls, self.text(callee))
        {
            if let Some(inner) = positional.first().filter(|a| a.kind() == "call") {
                if let Some(f) = inner.child_by_field_name("function") {
                    // `next(self.model.get_db())`: the receiver cannot be
                    // resolved; the method name is matched against the
                    // project's generators.
                    let q = self.ctx.qualify(f, self.class.as_deref()).or_else(|| {
                        (f.kind() == "attribute")
                            .then(|| f.child_by_field_name("attribute"))
                            .flatten()
                            .map(|a| format!("?.{}", self.text(a)))
                    });
                    if let Some(q) = q {
                        self.f.calls.push(CallFact::NextOfGenerator {
                            call: at,
                            callee: q,
                        });
                    }
                }
            }
        }

        // A stored bound release: `close = conn.close` ... `close()`.
        if callee.kind() == "identifier" {
            if let Some(&v) = self.bound_releases.get(self.text(callee)) {
                self.emit(EventKind::Release { var: v }, at, true);
                return;
            }
        }
        // A release through a sub-object the library documents
        // (`r.connection_pool.disconnect()` on a redis client).
        if let (Some(m), Some(r)) = (method, receiver.filter(|r| r.kind() == "attribute")) {
            if let (Some(owner), Some(attr)) = (
                r.child_by_field_name("object"),
                r.child_by_field_name("attribute"),
            ) {
                if let Some(v) = self.tracked(owner) {
                    let through = self.text(attr);
                    let releases = self.spec_of_var(self.text(owner)).is_some_and(|s| {
                        s.release.iter().any(|rel| {
                            rel.method.as_deref() == Some(m)
                                && rel.through.as_deref() == Some(through)
                        })
                    });
                    if releases {
                        self.emit(EventKind::Release { var: v }, at, true);
                        return;
                    }
                }
            }
        }
        // Release methods on a tracked receiver (or a parameter).
        if let (Some(m), Some(r)) = (method, receiver) {
            let rname = self.text(r);
            if let Some(i) = self.params.iter().position(|p| p == rname) {
                if Vocabulary::has(&self.ctx.resources.vocabulary.release_methods, m)
                    && !self.releases_params.contains(&i)
                {
                    self.releases_params.push(i);
                }
            }
            let receiver_type = self.ctx.type_of_name(r, &self.locals, self.attrs);
            if let Some(spec) = receiver_type.as_deref().and_then(|t| self.ctx.spec(t)) {
                let release = spec.release.iter().find(|rel| {
                    rel.method.as_deref() == Some(m) && rel.on.is_none() && rel.through.is_none()
                });
                if let Some(rel) = release {
                    if rel.is_async && !awaited && self.statement_call == Some(call.id()) {
                        self.f.calls.push(CallFact::UnawaitedRelease {
                            call: at,
                            receiver: rname.to_string(),
                            method: m.to_string(),
                        });
                    }
                }
            }
            if let Some(v) = self.tracked(r) {
                let spec = self.spec_of_var(rname);
                let is_release = Vocabulary::has(&self.ctx.resources.vocabulary.release_methods, m)
                    || spec.is_some_and(|s| {
                        s.release.iter().any(|rel| {
                            rel.method.as_deref() == Some(m)
                                && rel.on.is_none()
                                && rel.through.is_none()
                                && (!rel.without_args || args.is_empty())
                        })
                    });
                if is_release {
                    // Closing a cursor frees it on the client: taken not to
                    // raise, so `finally: cur.close(); conn.close()` closes
                    // the connection on every path.
                    let quiet = spec.is_some_and(|s| s.kind == ResourceKind::Cursor);
                    self.emit(EventKind::Release { var: v }, at, !quiet);
                    return;
                }
            }
            // Owner releases: pool.putconn(conn), pool.release(conn).
            let owner_release = Vocabulary::has(&vocabulary.owner_release_methods, m);
            let released = self.release_arguments(
                &positional,
                at,
                |rel, i| {
                    rel.method.as_deref() == Some(m)
                        && rel.on.is_some()
                        && rel.arg.unwrap_or(0) == i
                },
                |i| i == 0 && owner_release,
            );
            if released {
                return;
            }
        }

        // A function named for releasing (`close_quietly(conn)`): whatever
        // project or utility code it is, it is taken at its word.
        let callee_name = self.callee_name(callee).to_ascii_lowercase();
        if Vocabulary::within(&vocabulary.releasing_words, &callee_name) {
            let released: Vec<VarId> = args
                .iter()
                .map(|a| argument_value(*a))
                .filter_map(|a| self.tracked(a))
                .collect();
            if !released.is_empty() {
                for v in released {
                    self.emit(EventKind::Release { var: v }, at, true);
                }
                return;
            }
        }

        // Free-call releases and project functions that release a
        // parameter.
        if let Some(q) = &qualified {
            let summary_releases = self
                .ctx
                .summaries
                .get(q)
                .map(|s| s.releases_params.clone())
                .unwrap_or_default();
            let mut released = self.release_arguments(
                &positional,
                at,
                |rel, i| rel.call.as_deref() == Some(q.as_str()) && rel.arg.unwrap_or(0) == i,
                |i| summary_releases.contains(&i),
            );
            // `DatabaseService.reset_instance()`: releases every live value
            // of the types it resets.
            let resets: Vec<VarId> = self
                .locals
                .iter()
                .filter(|(_, t)| {
                    self.ctx.spec(t).is_some_and(|s| {
                        s.release
                            .iter()
                            .any(|rel| rel.call.as_deref() == Some(q.as_str()) && rel.arg.is_none())
                    })
                })
                .filter_map(|(n, _)| self.f.var_names.iter().position(|x| x == n))
                .collect();
            for v in resets {
                self.emit(EventKind::Release { var: v }, at, true);
                released = true;
            }
            if released {
                return;
            }
        }

        // Handed over to a constructor or a container: the new owner has it
        // before the call can fail.
        if self.is_constructor(call) || method.is_some_and(|m| is_storing(vocabulary, m)) {
            self.escape_args(call);
        }
        // Predicates (`conn.is_closed()`, `pool.has_capacity()`) are taken
        // not to raise: a finally that asks before closing is the careful
        // idiom, not a leak.
        let predicate =
            method.is_some_and(|m| Vocabulary::starts(&vocabulary.predicate_prefixes, m));
        let quiet = self.quiet_call(call, qualified.as_deref());
        let touches = self.call_touches(call);
        self.emit_touching(EventKind::Effect, at, !predicate && !quiet, touches);
    }
}
