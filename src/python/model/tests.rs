use super::*;
use crate::python::context::Summaries;
use crate::python::PyModule;
use crate::resources::{table_for, SpecLanguage};

/// Builds the model of `src` (as module `app`) and hands it to `check`.
fn with_model(src: &str, check: impl FnOnce(&Model, &str)) {
    let table = table_for(SpecLanguage::Python, &[]);
    let project = Summaries::new();
    let summaries = super::super::context::SummaryView::new(Summaries::new(), &project);
    let module = PyModule::parse(src);
    let ctx = FileContext::new(&module, &table, &summaries, "app".to_string());
    check(&Model::new(&ctx), src);
}

fn text(src: &str, span: Span) -> &str {
    &src[span.range()]
}

#[test]
fn with_items_are_acquiring_calls_with_what_follows() {
    let src = "import sqlite3\nimport psycopg\n\
               with sqlite3.connect(p) as conn, open(f) as fh:\n    pass\n\
               conn.execute('x')\nconn.close()\n\
               async def f():\n    async with psycopg.connect(p) as (a, b):\n        pass\n";
    with_model(src, |model, src| {
        let items = model.with_items();
        // `open` acquires nothing leaklint knows of.
        assert_eq!(items.len(), 2);
        let first = &items[0];
        assert_eq!(text(src, first.call), "sqlite3.connect(p)");
        assert_eq!(first.callee, "sqlite3.connect");
        assert_eq!(text(src, first.keyword), "with");
        assert!(!first.is_async);
        assert_eq!(first.acquires[0].type_name, "sqlite3.Connection");
        let alias = first.alias.as_ref().unwrap();
        assert_eq!(
            (alias.name.as_str(), text(src, alias.span)),
            ("conn", "conn")
        );
        assert_eq!(alias.methods_after, ["execute", "close"]);
        // A tuple target is no plain name.
        assert!(items[1].is_async && items[1].alias.is_none());
        assert_eq!(text(src, items[1].keyword), "with");
    });
}

#[test]
fn classes_describe_what_happens_to_self_attributes() {
    let src = "import psycopg2\nimport contextlib\n\
               class Repo(object):\n    def __init__(self, dsn):\n        \
               self.conn = psycopg2.connect(dsn)\n        self.cur = self.conn.cursor()\n    \
               @property\n    def q(self):\n        self.cur.execute('x')\n        \
               contextlib.closing(self.conn)\n        atexit.register(self.cur.close)\n\
               def f():\n    class Inner:\n        pass\n";
    with_model(src, |model, src| {
        let classes = model.classes();
        let names: Vec<_> = classes.iter().map(|c| c.name.as_deref()).collect();
        assert_eq!(names, [Some("Repo"), Some("Inner")]);
        let repo = &classes[0];
        assert_eq!(repo.methods, ["__init__", "q"]);
        assert_eq!(repo.bases.as_deref(), Some("(object)"));
        assert_eq!(classes[1].bases, None);
        let body = model.class_body(repo);
        let acquired: Vec<_> = body
            .acquisitions
            .iter()
            .map(|a| {
                (
                    a.attribute.as_str(),
                    a.spec.type_name.as_str(),
                    text(src, a.call),
                    a.from_attribute.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            acquired,
            [
                (
                    "conn",
                    "psycopg2.extensions.connection",
                    "psycopg2.connect(dsn)",
                    None
                ),
                (
                    "cur",
                    "psycopg2.extensions.cursor",
                    "self.conn.cursor()",
                    Some("conn")
                ),
            ]
        );
        // Types come from one pass over the class: `self.cur` is typed by
        // the acquisitions, not by the attribute map.
        let typed: Vec<_> = body.attribute_types.keys().collect();
        assert_eq!(typed, ["conn"]);
        assert_eq!(
            body.attribute_types["conn"].type_name,
            "psycopg2.extensions.connection"
        );
        let method = |a: &str, m: &str| AttributeUse::MethodCall {
            attribute: a.into(),
            method: m.into(),
        };
        let passed = |a: &str, c: &str| AttributeUse::PassedTo {
            attribute: a.into(),
            callee: c.into(),
        };
        assert_eq!(
            body.uses,
            [
                method("conn", "cursor"),
                method("cur", "execute"),
                passed("conn", "contextlib.closing"),
                passed("cur", "atexit.register"),
            ]
        );
    });
}

#[test]
fn scopes_hold_bindings_and_later_calls() {
    let src = "import sqlite3\nconn = sqlite3.connect(p)\ncur = conn.cursor()\n\
               def f():\n    conn.close()\nclose_db(conn)\n\
               class C:\n    x = 1\n";
    with_model(src, |model, src| {
        let scopes = model.scopes();
        assert_eq!(scopes.len(), 2);
        assert_eq!(scopes[0].kind, ScopeKind::Module);
        assert_eq!(scopes[1].kind, ScopeKind::Class);
        let module = &scopes[0].statements;
        let conn = module[1].binding.as_ref().unwrap();
        assert_eq!(
            (conn.name.as_str(), conn.receiver.as_deref()),
            ("conn", Some("sqlite3"))
        );
        assert_eq!(text(src, conn.call), "sqlite3.connect(p)");
        let cur = module[2].binding.as_ref().unwrap();
        assert_eq!(cur.spec.type_name, "sqlite3.Cursor");
        assert_eq!(cur.receiver.as_deref(), Some("conn"));
        // Calls inside a function body run later, not as the module loads.
        assert!(module[3].calls.is_empty());
        let call = &module[4].calls[0];
        assert_eq!(call.target, Callee::Name("close_db".into()));
        assert_eq!(call.args[0].text, "conn");
        // A scope without acquisitions records no calls.
        assert!(scopes[1].statements.iter().all(|s| s.calls.is_empty()));
    });
}

#[test]
fn registrations_resolve_what_they_are_given() {
    let src = "import sqlite3\nconn = sqlite3.connect(p)\n\
               registry.register('db', service=db.session)\n\
               container.provide(conn, sqlite3.connect(q), 3)\nitems.append(conn)\n";
    with_model(src, |model, src| {
        let regs = model.registrations();
        assert_eq!(regs.len(), 2);
        assert_eq!(regs[0].receiver, "registry");
        assert!(matches!(regs[0].values[0].kind, ValueKind::Other));
        match &regs[0].values[1].kind {
            ValueKind::Attribute { attribute } => assert_eq!(attribute.as_deref(), Some("session")),
            other => panic!("{other:?}"),
        }
        assert_eq!(text(src, regs[0].values[1].span), "db.session");
        let kinds: Vec<_> = regs[1]
            .values
            .iter()
            .map(|v| match &v.kind {
                ValueKind::Name { bound } => bound.map(|s| s.type_name.as_str()),
                ValueKind::Call { acquires } => acquires.map(|s| s.type_name.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(
            kinds,
            [Some("sqlite3.Connection"), Some("sqlite3.Connection"), None]
        );
    });
}

#[test]
fn functions_carry_decorators_and_body_facts() {
    let src = "from motor.motor_asyncio import AsyncIOMotorClient\n\
               @app.on_event('startup')\nasync def start(x=setup()):\n    \
               client = AsyncIOMotorClient(u)\n    app.state.c = client\n    yield\n    late = 1\n\
               def helper():\n    pass\n\
               class K:\n    @staticmethod\n    def m():\n        pass\n";
    with_model(src, |model, src| {
        let functions = model.functions();
        let summary: Vec<_> = functions
            .iter()
            .map(|f| (f.name.as_str(), f.top_level, f.decorators.len()))
            .collect();
        assert_eq!(
            summary,
            [("start", true, 1), ("helper", true, 0), ("m", false, 1)]
        );
        let d = &functions[0].decorators[0];
        assert_eq!(d.text, "@app.on_event('startup')");
        assert_eq!(d.callee.as_deref(), Some("app.on_event"));
        assert_eq!(d.first_argument.as_deref(), Some("'startup'"));
        assert_eq!(functions[2].decorators[0].callee, None);
        let body = model.function_body(&functions[0]);
        let span = body.span.unwrap();
        assert!(text(src, span).starts_with("client ="));
        assert_eq!(&src[body.first_yield.unwrap()..][..5], "yield");
        let assigned: Vec<_> = body
            .assignments
            .iter()
            .map(|a| {
                (
                    a.target.as_str(),
                    a.value.as_str(),
                    a.acquires.map(|(s, _)| s.kind),
                )
            })
            .collect();
        assert_eq!(
            assigned,
            [
                (
                    "client",
                    "AsyncIOMotorClient(u)",
                    Some(crate::resources::ResourceKind::Client)
                ),
                ("app.state.c", "client", None),
                ("late", "1", None),
            ]
        );
        // A default value's call is the definition's, before the body.
        assert_eq!(body.calls[0].callee, "setup");
        assert!(body.calls[0].span.start < span.start);
    });
}

#[test]
fn hook_registrations_by_call_and_keyword() {
    let src = "app.add_event_handler('shutdown', close_all)\n\
               app.add_event_handler('startup')\n\
               app = Starlette(on_startup=[a], on_shutdown=[b, c], routes=[r])\n";
    with_model(src, |model, _| {
        let hooks: Vec<_> = model
            .hook_registrations()
            .iter()
            .map(|h| (h.event.clone(), h.handler.as_str()))
            .collect();
        assert_eq!(
            hooks,
            [
                (HookEvent::Argument("'shutdown'".into()), "close_all"),
                (HookEvent::Keyword("on_startup".into()), "a"),
                (HookEvent::Keyword("on_shutdown".into()), "b"),
                (HookEvent::Keyword("on_shutdown".into()), "c"),
            ]
        );
        assert!(model.mentions(&model.vocabulary().event_registrars));
        assert!(!model.mentions(&model.vocabulary().dependency_markers));
    });
}

#[test]
fn wrapping_a_call_imports_what_it_needs() {
    let src = "\"\"\"Doc.\"\"\"\nfrom __future__ import annotations\nimport sqlite3\nx = sqlite3.connect(p)\n";
    with_model(src, |model, src| {
        let at = src.find("sqlite3.connect").unwrap();
        let span = Span::new(at, at + "sqlite3.connect(p)".len());
        let (spelling, edits) = model
            .wrap_in_call(span, "contextlib.closing", "\n")
            .unwrap();
        assert_eq!(spelling, "contextlib.closing");
        let import_at = src.find("import sqlite3").unwrap();
        assert_eq!(edits[0], Edit::insertion(import_at, "import contextlib\n"));
        assert_eq!(edits[1], Edit::insertion(at, "contextlib.closing("));
        assert_eq!(edits[2], Edit::insertion(span.end, ")"));
    });
    with_model("from contextlib import closing as c\nf()\n", |model, _| {
        let (spelling, edits) = model
            .wrap_in_call(Span::new(36, 39), "contextlib.closing", "\n")
            .unwrap();
        assert_eq!((spelling.as_str(), edits.len()), ("c", 2));
    });
    // A module that binds `contextlib` itself would shadow the import.
    let src = "import sqlite3\nx = sqlite3.connect(p)\ncontextlib = None\n";
    with_model(src, |model, src| {
        let at = src.find("sqlite3.connect").unwrap();
        let span = Span::new(at, at + "sqlite3.connect(p)".len());
        assert!(model
            .wrap_in_call(span, "contextlib.closing", "\n")
            .is_none());
    });
}
