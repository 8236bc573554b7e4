//! Registrations: instances handed to a registry or container (LK107), and
//! functions registered as application event handlers (LK108). Which
//! calls register is the vocabulary's (`registering-methods`,
//! `event-registrars`, `startup-keywords`, `shutdown-keywords`,
//! `entry-point-runners`).

use std::collections::HashMap;

use tree_sitter::Node;

use crate::diagnostic::Span;
use crate::python::context::FileContext;
use crate::python::{argument_value, preorder};
use crate::resources::{ResourceSpec, Vocabulary};

/// `receiver.method(values...)` with a registering method.
#[derive(Debug, Clone)]
pub(crate) struct Registration<'a> {
    /// The receiver as written (`registry`, `self.container`).
    pub receiver: String,
    /// What each argument passes, in order.
    pub values: Vec<RegisteredValue<'a>>,
}

/// A value handed to a registration.
#[derive(Debug, Clone)]
pub(crate) struct RegisteredValue<'a> {
    pub span: Span,
    pub text: String,
    pub kind: ValueKind<'a>,
}

#[derive(Debug, Clone)]
pub(crate) enum ValueKind<'a> {
    /// `x.attr`.
    Attribute {
        attribute: Option<String>,
    },
    /// A name, with the resource type it is bound to at module level.
    Name {
        bound: Option<&'a ResourceSpec>,
    },
    /// A call, with the resource it acquires.
    Call {
        acquires: Option<&'a ResourceSpec>,
    },
    Other,
}

/// A function registered as an application event handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HookRegistration {
    pub event: HookEvent,
    /// The handler's name.
    pub handler: String,
}

/// How the event of a [`HookRegistration`] is named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HookEvent {
    /// By the first argument of a registrar, as written:
    /// `"shutdown"` in `app.add_event_handler("shutdown", f)`.
    Argument(String),
    /// By a keyword argument: `on_shutdown` in `Starlette(on_shutdown=[f])`.
    Keyword(String),
    /// By the registering call, as written: `dp.startup.register` in
    /// `dp.startup.register(f)` (the vocabulary's `*-hooks`).
    Hook(String),
}

pub(super) fn registrations<'a>(ctx: &FileContext<'a>) -> Vec<Registration<'a>> {
    let methods = &ctx.resources.vocabulary.registering_methods;
    let no_types = HashMap::new();
    let mut out = Vec::new();
    preorder(ctx.module.tree.root_node(), |n| {
        if n.kind() != "call" {
            return true;
        }
        let Some(f) = n
            .child_by_field_name("function")
            .filter(|f| f.kind() == "attribute")
        else {
            return true;
        };
        let method = f
            .child_by_field_name("attribute")
            .map(|a| ctx.text(a))
            .unwrap_or("");
        if !Vocabulary::has(methods, method) {
            return true;
        }
        let Some(args) = n.child_by_field_name("arguments") else {
            return true;
        };
        let mut cursor = args.walk();
        let values = args
            .named_children(&mut cursor)
            .map(|a| {
                let value = argument_value(a);
                let kind = match value.kind() {
                    "attribute" => ValueKind::Attribute {
                        attribute: value
                            .child_by_field_name("attribute")
                            .map(|a| ctx.text(a).to_string()),
                    },
                    "identifier" => ValueKind::Name {
                        bound: ctx.globals.get(ctx.text(value)).and_then(|t| ctx.spec(t)),
                    },
                    "call" => ValueKind::Call {
                        acquires: ctx
                            .acquisition(value, &no_types, &no_types, None)
                            .map(|(s, _)| s),
                    },
                    _ => ValueKind::Other,
                };
                RegisteredValue {
                    span: Span::new(value.start_byte(), value.end_byte()),
                    text: ctx.text(value).to_string(),
                    kind,
                }
            })
            .collect();
        out.push(Registration {
            receiver: f
                .child_by_field_name("object")
                .map(|o| ctx.text(o))
                .unwrap_or("")
                .to_string(),
            values,
        });
        true
    });
    out
}

pub(super) fn hook_registrations(ctx: &FileContext) -> Vec<HookRegistration> {
    let vocabulary = &ctx.resources.vocabulary;
    let mut out = Vec::new();
    preorder(ctx.module.tree.root_node(), |n| {
        match n.kind() {
            "call" => {
                let callee = n
                    .child_by_field_name("function")
                    .map(|f| ctx.text(f))
                    .unwrap_or("");
                // `app.on_startup.append(init_db)`, `app.on_cleanup.extend([a, b])`
                // (aiohttp): a hook list named like a startup or shutdown
                // keyword.
                if let Some((list, verb)) = callee
                    .rsplit_once('.')
                    .and_then(|(head, verb)| Some((head.rsplit('.').next()?, verb)))
                {
                    let hooks = Vocabulary::has(&vocabulary.startup_keywords, list)
                        || Vocabulary::has(&vocabulary.shutdown_keywords, list);
                    if hooks && matches!(verb, "append" | "extend" | "insert") {
                        if let Some(args) = n.child_by_field_name("arguments") {
                            let mut names = Vec::new();
                            preorder(args, |a| {
                                if a.kind() == "identifier" {
                                    names.push(ctx.text(a).to_string());
                                }
                                true
                            });
                            for handler in names {
                                out.push(HookRegistration {
                                    event: HookEvent::Keyword(list.to_string()),
                                    handler,
                                });
                            }
                        }
                    }
                }
                let hook = [
                    &vocabulary.startup_hooks,
                    &vocabulary.shutdown_hooks,
                    &vocabulary.lifespan_hooks,
                ]
                .iter()
                .any(|words| Vocabulary::ends_name(words, callee));
                if let Some(first) = n
                    .child_by_field_name("arguments")
                    .and_then(|a| a.named_child(0))
                    .filter(|_| hook)
                {
                    for handler in handler_names(ctx, first) {
                        out.push(HookRegistration {
                            event: HookEvent::Hook(callee.to_string()),
                            handler,
                        });
                    }
                }
                // `asyncio.run(main())`, `trio.run(main)`: the program's
                // entry point.
                if Vocabulary::ends_name(&vocabulary.entry_point_runners, callee) {
                    let first = n
                        .child_by_field_name("arguments")
                        .and_then(|a| a.named_child(0))
                        .map(|a| match a.kind() {
                            "call" => a.child_by_field_name("function").unwrap_or(a),
                            _ => a,
                        })
                        .filter(|f| f.kind() == "identifier");
                    if let Some(f) = first {
                        out.push(HookRegistration {
                            event: HookEvent::Hook(callee.to_string()),
                            handler: ctx.text(f).to_string(),
                        });
                    }
                }
                if Vocabulary::ends(&vocabulary.event_registrars, callee) {
                    if let Some(args) = n.child_by_field_name("arguments") {
                        let mut c = args.walk();
                        let list: Vec<Node> = args.named_children(&mut c).collect();
                        if list.len() >= 2 && list[1].kind() == "identifier" {
                            out.push(HookRegistration {
                                event: HookEvent::Argument(ctx.text(list[0]).to_string()),
                                handler: ctx.text(list[1]).to_string(),
                            });
                        }
                    }
                }
            }
            "keyword_argument" => {
                let key = n
                    .child_by_field_name("name")
                    .map(|k| ctx.text(k))
                    .unwrap_or("");
                let hooks = Vocabulary::has(&vocabulary.startup_keywords, key)
                    || Vocabulary::has(&vocabulary.shutdown_keywords, key);
                // `on_startup=[a, b]`, or one handler: aiogram 2's
                // `start_polling(dp, on_startup=on_startup)`.
                if let Some(v) = n.child_by_field_name("value").filter(|_| hooks) {
                    for handler in handler_names(ctx, v) {
                        out.push(HookRegistration {
                            event: HookEvent::Keyword(key.to_string()),
                            handler,
                        });
                    }
                }
            }
            _ => {}
        }
        true
    });
    out
}

/// The handlers an argument names: a name, or the names of a list or tuple.
fn handler_names(ctx: &FileContext, value: Node) -> Vec<String> {
    if value.kind() == "identifier" {
        return vec![ctx.text(value).to_string()];
    }
    if !matches!(value.kind(), "list" | "tuple") {
        return Vec::new();
    }
    let mut c = value.walk();
    value
        .named_children(&mut c)
        .filter(|i| i.kind() == "identifier")
        .map(|i| ctx.text(i).to_string())
        .collect()
}
