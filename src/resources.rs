//! Resource knowledge: which calls acquire a database/HTTP resource, how it
//! is released, what `with` does to it. Loaded from the `rules/*.toml`
//! files embedded at build time and from `[[resource]]` tables in the
//! user's configuration; both use the schema below, so a project can teach
//! leaklint its own `DatabaseService.get_instance()` exactly as the
//! built-in files teach it `sqlite3.connect`.

use std::fmt;

use serde::Deserialize;

include!(concat!(env!("OUT_DIR"), "/embedded_rules.rs"));

/// What sort of thing a resource is; decides which rules apply (pools and
/// clients may be long-lived, sessions and connections may not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResourceKind {
    Connection,
    Session,
    Pool,
    Client,
    Engine,
    Transaction,
    Cursor,
    /// A raw handle (file descriptor, FFI pointer).
    Handle,
    /// Not a resource itself but a callable that makes them
    /// (`sessionmaker`); tracked only so that calling it acquires.
    Factory,
}

impl ResourceKind {
    /// A value that holds a connection's session for its holder alone
    /// (connections, sessions, transactions, cursors): not shareable like
    /// a pool or client.
    pub fn is_guard(self) -> bool {
        matches!(
            self,
            ResourceKind::Connection
                | ResourceKind::Session
                | ResourceKind::Transaction
                | ResourceKind::Cursor
        )
    }
}

/// What entering the resource as a context manager does on exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WithSemantics {
    /// `__exit__` releases the resource.
    Closes,
    /// `__exit__` commits or rolls back but leaves the resource open
    /// (sqlite3, psycopg2 connections).
    Transaction,
}

/// One way to obtain the resource: a call by qualified name
/// (`sqlite3.connect`, `rusqlite::Connection::open`) or a method on a value
/// of a known resource type (`cursor` on `sqlite3.Connection`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Acquire {
    pub call: Option<String>,
    pub method: Option<String>,
    /// The resource type the method is called on (required with `method`).
    pub on: Option<String>,
    /// The call returns an awaitable that yields the resource.
    #[serde(default)]
    pub awaited: bool,
    /// The resource is element N of the returned tuple
    /// (`tokio_postgres::connect` returns `(Client, Connection)`).
    #[serde(default)]
    pub element: Option<usize>,
    /// The resource is written through the `&mut` argument N
    /// (`sqlite3_open(path, &mut db)`).
    #[serde(default)]
    pub out_arg: Option<usize>,
    /// Match `call` by its last segment through any path: FFI symbols are
    /// re-exported by several `-sys` crates and `ffi` modules.
    #[serde(default)]
    pub any_path: bool,
    /// The resource's state lives on the receiver, not in the returned
    /// value (mongodb's `session.start_transaction()` returns `()`).
    #[serde(default)]
    pub into_receiver: bool,
    /// Only when the call passes this keyword argument, spelled
    /// `keyword=value` (`stream=True`: a requests response that holds its
    /// connection until it is read or closed).
    #[serde(default)]
    pub when: Option<String>,
}

/// One way to release the resource: a method on it (`conn.close()`), a
/// method on its owner taking it as argument `arg` (`pool.putconn(conn)`),
/// or a free call (`DatabaseService.reset_instance()`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Release {
    pub method: Option<String>,
    pub call: Option<String>,
    /// With `method`: the type owning the method, when it is not the
    /// resource itself.
    pub on: Option<String>,
    /// Which argument receives the resource, for owner methods and calls.
    pub arg: Option<usize>,
    /// The release returns a coroutine that must be awaited.
    #[serde(default, rename = "async")]
    pub is_async: bool,
    /// Match `call` by its last segment through any path (see
    /// [`Acquire::any_path`]).
    #[serde(default)]
    pub any_path: bool,
    /// With `method`: called on this attribute of the resource, not on the
    /// resource itself (`r.connection_pool.disconnect()`).
    #[serde(default)]
    pub through: Option<String>,
    /// With `method`: it releases only when called without arguments
    /// (`response.read()` reads to the end and closes; `read(n)` does not).
    #[serde(default)]
    pub without_args: bool,
}

/// When an argument of an acquisition is a resource owned elsewhere, the
/// value it makes only borrows that resource (see
/// [`ResourceSpec::borrows_when`]).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct BorrowRule {
    /// The keyword argument.
    pub arg: String,
    /// Its position when passed positionally.
    #[serde(default)]
    pub position: Option<usize>,
    /// The argument is a value of one of these types.
    #[serde(default)]
    pub types: Vec<String>,
    /// ... or the result of one of these qualified calls
    /// (`alembic.op.get_bind`).
    #[serde(default)]
    pub calls: Vec<String>,
    /// ... or the result of a method of this name (`session.connection()`).
    #[serde(default)]
    pub methods: Vec<String>,
    /// ... or a name spelled so (`connection`, a parameter that event
    /// hooks pass the flushing connection in).
    #[serde(default)]
    pub names: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceSpec {
    /// Qualified type name; `on` fields refer to it.
    #[serde(rename = "type")]
    pub type_name: String,
    /// Other names of the same type (re-exports, aliases).
    #[serde(default)]
    pub aliases: Vec<String>,
    pub kind: ResourceKind,
    pub acquire: Vec<Acquire>,
    #[serde(default)]
    pub release: Vec<Release>,
    /// What `with x:` does; absent when it is not a context manager.
    #[serde(default, rename = "with")]
    pub with_semantics: Option<WithSemantics>,
    /// What `async with x:` does; absent when it is not an async one.
    #[serde(default)]
    pub async_with: Option<WithSemantics>,
    /// Dropping the value releases it (Rust RAII).
    #[serde(default)]
    pub drop_releases: bool,
    /// Meant to live for the whole process (engines, pools, clients).
    #[serde(default)]
    pub long_lived: bool,
    /// A guard borrowed from a pool, returned to it on drop.
    #[serde(default)]
    pub pooled: bool,
    /// The pool resets the session when the guard comes back (rolling back
    /// an open transaction): a raw `BEGIN` left open on it is cleaned up.
    #[serde(default)]
    pub resets_on_return: bool,
    /// An in-process database connection (SQLite): keeping one for the
    /// life of the process holds no server or pool resource.
    #[serde(default)]
    pub embedded: bool,
    /// A future or driver that must be spawned or awaited for a sibling
    /// resource to make progress (`tokio_postgres::Connection`).
    #[serde(default)]
    pub must_poll: bool,
    /// A builder (`kind = "factory"`): its other methods return itself.
    #[serde(default)]
    pub builder: bool,
    /// Acquiring opens nothing until the resource is used through its own
    /// methods (`create_engine` connects on first use): a raise before any
    /// use, or never using it, leaks nothing.
    #[serde(default)]
    pub lazy: bool,
    /// A registry (`kind = "factory"`) that is also a proxy for the one
    /// object it makes (`scoped_session`: `registry.query(...)` runs on
    /// "the current Session, creating it" if none): its other methods use,
    /// and so open, a resource of this kind that the registry keeps until
    /// one of its releases. A registry made in a function, used so and
    /// then dropped leaves that resource open.
    #[serde(default)]
    pub proxy_opens: Option<ResourceKind>,
    /// `keyword=suffix` rules: an acquisition call with such a keyword
    /// argument keeps nothing open and is not tracked
    /// (`poolclass=NullPool`).
    #[serde(default)]
    pub inert_when: Vec<String>,
    /// Arguments that make the acquisition borrow a resource someone else
    /// owns instead of opening one (`Session(bind=connection)` runs on the
    /// caller's connection and has nothing of its own to release).
    #[serde(default)]
    pub borrows_when: Vec<BorrowRule>,
    /// Methods that do not raise while the resource is open: they build a
    /// local object or read local state, with no round trip to a server
    /// (`conn.cursor()` of a DB-API connection). A connection opened just
    /// before `cursor = conn.cursor(); try: ...` is not leaked by them.
    #[serde(default)]
    pub quiet_methods: Vec<String>,
    /// Attributes of the resource that the library documents as its
    /// sub-objects, through which calls use the resource itself: `"*"`
    /// for any attribute at any depth (pymongo: `client.shop` is a
    /// database, `client.shop.orders` a collection, so
    /// `client.admin.command(...)` talks to the server), or names
    /// (`indices` for `es.indices.create(...)`). Other attribute chains
    /// (`conn.encoders.pop(k)`) do not use it.
    #[serde(default)]
    pub derived: Vec<String>,
    /// Acquired only in test code (test modules, `conftest.py`): a
    /// singleton getter (`Service.get_instance()`) is the application's
    /// shared instance everywhere else, and a test that takes one without
    /// resetting it leaks it into the next test.
    #[serde(default)]
    pub tests_only: bool,
    /// Only in user configuration, where there is no per-file `language`;
    /// defaults to Python there. In `rules/` files it must match the file's.
    #[serde(default)]
    pub language: Option<SpecLanguage>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SpecLanguage {
    Python,
    Rust,
}

/// A `rules/<language>/<library>.toml` file, or a
/// `rules/frameworks/<framework>.toml` file (a framework's lifecycle
/// hooks and state wrappers, for one language).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LibraryFile {
    /// The library the file describes (files under `rules/<language>/`).
    #[serde(default)]
    pub library: Option<String>,
    /// The framework the file describes (files under `rules/frameworks/`).
    #[serde(default)]
    pub framework: Option<String>,
    pub language: SpecLanguage,
    #[serde(default)]
    pub resource: Vec<ResourceSpec>,
    /// Names the front ends and rules match that belong to no one
    /// resource: merged over every file of the language.
    #[serde(default)]
    pub vocabulary: Vocabulary,
}

/// Words that the front ends and rules recognise by name but that are not
/// a single resource's acquire or release: generic release methods, task
/// spawners, framework hooks and state wrappers. Each list is the union
/// over the files of one language, so a library or framework adds its
/// words in its own file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Vocabulary {
    /// Methods that release whatever they are called on, whichever
    /// library (`close`, `dispose`): a call to one is never mistaken for a
    /// leak.
    #[serde(default)]
    pub release_methods: Vec<String>,
    // Python
    /// Container methods that keep their argument beyond the call
    /// (`list.append`, `queue.put`): a resource given to one is handed
    /// over. Matched exactly.
    #[serde(default)]
    pub storing_methods: Vec<String>,
    /// Prefixes of method names that keep their argument in a registry
    /// (`reaper.add_engine(e)`, `track_pool(p)`). Matched at the start.
    #[serde(default)]
    pub storing_prefixes: Vec<String>,
    /// Words in a function's name that say it releases what it is given
    /// (`close_quietly(conn)`). Matched anywhere in the lower-cased name.
    #[serde(default)]
    pub releasing_words: Vec<String>,
    /// Calls and methods that run their arguments in another task, thread
    /// or process (`asyncio.create_task`, `executor.submit`): whatever they
    /// mention is that task's to release. Matched exactly.
    #[serde(default)]
    pub spawning_calls: Vec<String>,
    /// Qualified calls that guard their argument: it is released when
    /// their `with` block ends (`contextlib.closing`).
    #[serde(default)]
    pub guard_calls: Vec<String>,
    /// Methods that guard their argument until a scope ends
    /// (`ExitStack.enter_context`, `ExitStack.callback`). Matched exactly.
    #[serde(default)]
    pub guard_methods: Vec<String>,
    /// Methods of an owner that release the resource passed as their first
    /// argument (`pool.putconn(conn)`). Matched exactly.
    #[serde(default)]
    pub owner_release_methods: Vec<String>,
    /// Methods and attributes whose value is plain data, read in full
    /// (`fetchall()`, `json()`, `status_code`): a function may return one
    /// from inside a `with` block that closes what it was read from.
    /// Matched exactly, on the outermost call or attribute of the returned
    /// expression.
    #[serde(default)]
    pub materialising_reads: Vec<String>,
    /// Attributes and methods that answer whether a resource is already
    /// released (`conn.closed`, `conn.is_closed()`). Matched exactly.
    #[serde(default)]
    pub closed_predicates: Vec<String>,
    /// Prefixes of predicate methods, taken not to raise (`is_`, `has_`):
    /// a `finally` that asks before closing is the careful idiom.
    #[serde(default)]
    pub predicate_prefixes: Vec<String>,
    /// Calls taken not to raise whatever resource they are given
    /// (`setattr`, `types.MethodType`, `isinstance`): matched on the
    /// qualified name, or the bare name of a builtin.
    #[serde(default)]
    pub quiet_calls: Vec<String>,
    /// Base classes that give a subclass no release method of their own
    /// (`discord.ext.commands.Cog`: its `cog_unload` hook is empty), so a
    /// subclass that keeps a resource must release it itself. Matched on
    /// the base as its imports resolve it.
    #[serde(default)]
    pub plain_bases: Vec<String>,
    /// Callees that build a new object holding their arguments although
    /// their names are not capitalised (`dict(...)`, `partial(...)`).
    /// Matched exactly.
    #[serde(default)]
    pub constructor_calls: Vec<String>,
    /// Builtins that advance a generator by hand (`next`, `anext`): on a
    /// dependency generator, its cleanup never runs.
    #[serde(default)]
    pub advancing_calls: Vec<String>,
    /// Decorators (as resolved or written) that turn a generator into a
    /// context manager (`contextlib.contextmanager`). Matched exactly by
    /// the lowering, anywhere in a decorator's text by LK108.
    #[serde(default)]
    pub context_manager_decorators: Vec<String>,
    /// Words in a decorator's name that make a function return one shared
    /// instance (`functools.lru_cache`, `singleton`): its callers do not
    /// own the result. Matched anywhere in the name.
    #[serde(default)]
    pub caching_decorators: Vec<String>,
    /// Endings of decorator names that make a function an attribute
    /// (`property`, `functools.cached_property`): it returns the object's
    /// own value, not a fresh one.
    #[serde(default)]
    pub property_decorators: Vec<String>,
    /// Method names that make a class the releaser of what it keeps on
    /// `self` (`close`, `__exit__`, unittest's `tearDown`): LK109 trusts
    /// them. Matched exactly.
    #[serde(default)]
    pub releaser_methods: Vec<String>,
    /// Endings of callee names that take a resource (or its bound
    /// release) and release it later (`contextlib.closing`,
    /// `stack.enter_context`, `atexit.register`).
    #[serde(default)]
    pub releasing_wrappers: Vec<String>,
    /// Methods of a registry or container that store a ready-made instance
    /// (`register_singleton`): LK107. Matched exactly.
    #[serde(default)]
    pub registering_methods: Vec<String>,
    /// Words in a receiver's (lower-cased) name that make it a registry or
    /// container (`registry`, `container`), as opposed to a connection
    /// that registers adapters. Matched anywhere.
    #[serde(default)]
    pub registry_words: Vec<String>,
    /// Attribute names that hold a session by convention (`db.session`):
    /// registering one shares it. Matched exactly.
    #[serde(default)]
    pub session_attributes: Vec<String>,
    /// Endings of the callee of a call that marks a function as a request
    /// dependency run by the framework (`Depends(get_db)`).
    #[serde(default)]
    pub dependency_markers: Vec<String>,
    /// Keyword arguments that hand an application its lifespan context
    /// (`FastAPI(lifespan=lifespan)`). Matched exactly.
    #[serde(default)]
    pub lifespan_keywords: Vec<String>,
    /// Names that a lifespan function goes by even when it is not seen
    /// passed as one (`async def lifespan(app)`). Matched exactly.
    #[serde(default)]
    pub lifespan_functions: Vec<String>,
    /// Endings of decorator callees that register an event handler
    /// (`@app.on_event("startup")`).
    #[serde(default)]
    pub event_decorators: Vec<String>,
    /// Endings of callees that register a handler for the event named by
    /// their first argument (`app.add_event_handler("shutdown", f)`).
    #[serde(default)]
    pub event_registrars: Vec<String>,
    /// Keyword arguments that register startup handlers
    /// (`Starlette(on_startup=[...])`). Matched exactly.
    #[serde(default)]
    pub startup_keywords: Vec<String>,
    /// Keyword arguments that register shutdown handlers
    /// (`Starlette(on_shutdown=[...])`). Matched exactly.
    #[serde(default)]
    pub shutdown_keywords: Vec<String>,
    /// Event names of application startup, found anywhere in the event
    /// argument (`"startup"`).
    #[serde(default)]
    pub startup_events: Vec<String>,
    /// Event names of application shutdown, found anywhere in the event
    /// argument (`"shutdown"`).
    #[serde(default)]
    pub shutdown_events: Vec<String>,
    /// Endings of decorators and calls that register a function as a
    /// startup handler, by their name alone: Sanic's
    /// `@app.before_server_start`, Quart's `@app.before_serving`,
    /// aiogram's `@dp.startup()` / `dp.startup.register(f)`,
    /// python-telegram-bot's `.post_init(f)`, Celery's
    /// `@worker_process_init.connect`. A call registers the names in its
    /// first argument (one, or a list).
    #[serde(default)]
    pub startup_hooks: Vec<String>,
    /// The same for shutdown handlers (`@app.after_server_stop`,
    /// `@app.after_serving`, `dp.shutdown.register(f)`,
    /// `.post_shutdown(f)`, `@worker_process_shutdown.connect`).
    #[serde(default)]
    pub shutdown_hooks: Vec<String>,
    /// The same for generators run as a lifespan: the code before their
    /// `yield` runs at startup, after it at shutdown (aiohttp's
    /// `app.cleanup_ctx.append(ctx)`, Quart's `@app.while_serving`).
    #[serde(default)]
    pub lifespan_hooks: Vec<String>,
    /// Calls that run a module function as the whole program and return
    /// when it ends (`asyncio.run(main())`, `trio.run(main)`,
    /// `loop.run_until_complete(main())`): the end of that function is the
    /// program's shutdown. Matched at the end of the callee as written.
    #[serde(default)]
    pub entry_point_runners: Vec<String>,
    /// Per-request namespaces, qualified (`flask.g`): what a request puts
    /// there is released only by a teardown handler.
    #[serde(default)]
    pub request_globals: Vec<String>,
    /// Decorators (as resolved or written) that make a function a test
    /// fixture (`pytest.fixture`). Matched exactly.
    #[serde(default)]
    pub fixture_decorators: Vec<String>,
    /// Prefixes of the names of test functions, and of the classes whose
    /// methods are tests (pytest's `test*` in `Test*`).
    #[serde(default)]
    pub test_function_prefixes: Vec<String>,
    #[serde(default)]
    pub test_class_prefixes: Vec<String>,
    /// Endings of base classes that make a class a unittest-style test
    /// case (`unittest.TestCase`, `IsolatedAsyncioTestCase`).
    #[serde(default)]
    pub test_case_bases: Vec<String>,
    /// Methods run before each test of a test class (`setUp`,
    /// `asyncSetUp`, `setup_method`): what they open is the test's to close.
    #[serde(default)]
    pub test_setup_methods: Vec<String>,
    /// Methods run once before a test class's tests (`setUpClass`,
    /// `setup_class`).
    #[serde(default)]
    pub class_setup_methods: Vec<String>,
    /// Methods and functions that register a cleanup callback run after
    /// the test (`addCleanup`, `addAsyncCleanup`, `request.addfinalizer`):
    /// a release handed to one counts. Matched by ending.
    #[serde(default)]
    pub cleanup_registrars: Vec<String>,
    /// Words in a decorator's name that make the function return one
    /// shared instance (`functools.lru_cache`, `cache`): what a request
    /// dependency returns that way is not a new resource per request.
    /// Matched anywhere.
    #[serde(default)]
    pub cache_words: Vec<String>,
    // Rust
    /// Functions that run their argument as a task or thread (`tokio::spawn`,
    /// `std::thread::spawn`): what the task captures leaves the spawner,
    /// and a handle awaited at once is not a spawn left running.
    #[serde(default)]
    pub spawn_functions: Vec<String>,
    /// Methods whose result is their receiver's value (`unwrap`, anyhow's
    /// `context`, tracing's `instrument`): a resource flows through them.
    #[serde(default)]
    pub passthrough_methods: Vec<String>,
    /// Methods that borrow their receiver (`as_ref`, `deref`): the result is
    /// the same resource, used in place.
    #[serde(default)]
    pub borrow_methods: Vec<String>,
    /// Methods that copy their receiver (`clone`): a clone of a pool is the
    /// same kind of pool.
    #[serde(default)]
    pub clone_methods: Vec<String>,
    /// Container, cell and channel methods that take ownership of their
    /// argument (`push`, `insert`, `send`): what they are given is handed
    /// over.
    #[serde(default)]
    pub store_methods: Vec<String>,
    /// Collection methods that keep their argument beyond the statement: a
    /// guard of one loop iteration pushed into an outer collection
    /// outlives the iteration.
    #[serde(default)]
    pub collect_methods: Vec<String>,
    /// Query methods that write through the connection or transaction they
    /// run on (`execute`, `insert_one`): a transaction written through must
    /// be committed.
    #[serde(default)]
    pub write_methods: Vec<String>,
    /// Functions that build a writing statement (diesel's `insert_into`).
    #[serde(default)]
    pub write_functions: Vec<String>,
    /// Query methods (and functions) that only read through the executor they
    /// are given: a transaction only read through loses nothing when it is
    /// rolled back.
    #[serde(default)]
    pub read_methods: Vec<String>,
    /// Name prefixes of functions and methods that send the SQL given as an
    /// argument (`query`, `exec`): their string literals are read for
    /// `BEGIN`/`COMMIT`.
    #[serde(default)]
    pub query_api_prefixes: Vec<String>,
    /// Whole names of such functions and methods (`batch_execute`, `raw_sql`).
    #[serde(default)]
    pub query_apis: Vec<String>,
    /// Name prefixes of macros that send SQL (sqlx's `query!`,
    /// `query_as!`); other macros (`format!`, `write!`) only print it.
    #[serde(default)]
    pub query_macro_prefixes: Vec<String>,
    /// Methods that turn an SQL string into another string type unchanged
    /// (`as_str`, `to_string`): `sql.as_str()` sends the literal `sql`.
    #[serde(default)]
    pub string_conversions: Vec<String>,
    /// Executor methods that, given a pool instead of a connection, acquire
    /// one from it for the duration of the query (sqlx's `fetch_one(&pool)`).
    #[serde(default)]
    pub executor_methods: Vec<String>,
    /// Generic types whose first type argument is what the code works with
    /// (`Arc<Mutex<PgPool>>`, axum's `State<PgPool>`): peeled off a written
    /// type before it is matched against the resource types.
    #[serde(default)]
    pub type_wrappers: Vec<String>,
    /// What passes a value through unchanged, so that the result holds
    /// the same resource. Rust: types whose `new`/`pin` wraps the value
    /// given (`Arc::new(pool)`). Python: qualified calls that pass their
    /// first argument's value through (`asyncio.wait_for(x, t)`): the
    /// acquisition is that argument.
    #[serde(default)]
    pub value_wrappers: Vec<String>,
    /// Calls that return their second argument as the type their first
    /// names (`typing.cast(Engine, make_engine())`).
    #[serde(default)]
    pub cast_calls: Vec<String>,
    /// Wrappers that share what they hold (`Arc`, `Mutex`): a function
    /// returning one gives its caller no fresh resource of its own.
    #[serde(default)]
    pub shared_wrappers: Vec<String>,
    /// Wrappers looked through to name an application-state type
    /// (`Data<Arc<AppState>>` is `AppState`).
    #[serde(default)]
    pub state_wrappers: Vec<String>,
    /// Handler parameter types that extract application state
    /// (`State<AppState>`): the type they wrap lives for the process.
    #[serde(default)]
    pub state_extractors: Vec<String>,
    /// Methods that hand their argument to the application as state for the
    /// life of the server (axum's `with_state`, rocket's `manage`).
    #[serde(default)]
    pub state_methods: Vec<String>,
    /// Calls, by their last path segments, that make application state of
    /// their argument (actix's `Data::new`, axum's `Extension`).
    #[serde(default)]
    pub state_calls: Vec<String>,
    /// Suffixes of generated server types whose constructors serve their
    /// argument for the life of the server (tonic's `FooServer`).
    #[serde(default)]
    pub service_server_suffixes: Vec<String>,
    /// The constructors of such server types (`new`, `from_arc`).
    #[serde(default)]
    pub service_constructors: Vec<String>,
    /// Macros whose body declares `static` items (`thread_local!`,
    /// `lazy_static!`): what they hold lives for the process.
    #[serde(default)]
    pub static_macros: Vec<String>,
    /// Macros that never return (`panic!`, `todo!`).
    #[serde(default)]
    pub diverging_macros: Vec<String>,
    /// Macros that return an error from the function (anyhow's `bail!`).
    #[serde(default)]
    pub bail_macros: Vec<String>,
    /// Macros that return an error unless a condition holds (`ensure!`).
    #[serde(default)]
    pub ensure_macros: Vec<String>,
    /// Macros that poll several futures and run the handler of the first to
    /// finish (`tokio::select!`).
    #[serde(default)]
    pub select_macros: Vec<String>,
    /// Macros that poll several futures to completion (`tokio::join!`): the
    /// futures they are given are consumed.
    #[serde(default)]
    pub join_macros: Vec<String>,
    /// Text that takes a forgotten or leaked value back (`ManuallyDrop::take`,
    /// `Box::from_raw`): a task whose body has it releases what it captured.
    #[serde(default)]
    pub reclaim_words: Vec<String>,
    /// Words whose presence makes a Rust file worth checking although it
    /// names no known crate (the forget family: `forget(`, `into_raw(`).
    #[serde(default)]
    pub admit_words: Vec<String>,
    /// Words whose presence makes a Rust file worth summarising for the
    /// project although it names no known crate: where application state
    /// is registered (`with_state`, `.manage(`).
    #[serde(default)]
    pub summary_words: Vec<String>,
    /// No-argument methods that leave their receiver the same value
    /// (`clone`, `as_ref`): `&*self.pool.clone()` and `self.pool` are one
    /// receiver.
    #[serde(default)]
    pub receiver_suffix_methods: Vec<String>,
    /// Words that, in an `extern` function's name, say it opens a handle
    /// (`open`, `connect`).
    #[serde(default)]
    pub extern_open_words: Vec<String>,
    /// Words that, in an `extern` function's name, say it closes one
    /// (`close`, `free`); a close word wins (`tsdb_disconnect` closes).
    #[serde(default)]
    pub extern_close_words: Vec<String>,
    /// Name prefixes of one-argument error checkers that return the raw
    /// handle they are given (`cvt(fd)?`, `check(..)`).
    #[serde(default)]
    pub handle_checker_prefixes: Vec<String>,
    /// Whole names of such checkers (`syscall`).
    #[serde(default)]
    pub handle_checkers: Vec<String>,
}

impl Vocabulary {
    /// Adds `other`'s words to this one's, keeping each once and in
    /// first-seen order.
    fn absorb(&mut self, other: &Vocabulary) {
        fn merge(into: &mut Vec<String>, from: &[String]) {
            for w in from {
                if !into.contains(w) {
                    into.push(w.clone());
                }
            }
        }
        // Every field, by name: a field added to the struct and not here
        // does not compile.
        macro_rules! merge_all {
            ($($field:ident),*) => {
                let Vocabulary { $($field),* } = other;
                $(merge(&mut self.$field, $field);)*
            };
        }
        merge_all!(
            release_methods,
            // Python
            storing_methods,
            storing_prefixes,
            releasing_words,
            spawning_calls,
            guard_calls,
            guard_methods,
            owner_release_methods,
            materialising_reads,
            closed_predicates,
            predicate_prefixes,
            quiet_calls,
            plain_bases,
            constructor_calls,
            advancing_calls,
            context_manager_decorators,
            caching_decorators,
            property_decorators,
            releaser_methods,
            releasing_wrappers,
            registering_methods,
            registry_words,
            session_attributes,
            dependency_markers,
            lifespan_keywords,
            lifespan_functions,
            event_decorators,
            event_registrars,
            startup_keywords,
            shutdown_keywords,
            startup_events,
            shutdown_events,
            startup_hooks,
            shutdown_hooks,
            lifespan_hooks,
            entry_point_runners,
            request_globals,
            fixture_decorators,
            test_function_prefixes,
            test_class_prefixes,
            test_case_bases,
            test_setup_methods,
            class_setup_methods,
            cleanup_registrars,
            cache_words,
            // Rust
            spawn_functions,
            passthrough_methods,
            borrow_methods,
            clone_methods,
            store_methods,
            collect_methods,
            write_methods,
            write_functions,
            read_methods,
            query_api_prefixes,
            query_apis,
            query_macro_prefixes,
            string_conversions,
            executor_methods,
            type_wrappers,
            value_wrappers,
            cast_calls,
            shared_wrappers,
            state_wrappers,
            state_extractors,
            state_methods,
            state_calls,
            service_server_suffixes,
            service_constructors,
            static_macros,
            diverging_macros,
            bail_macros,
            ensure_macros,
            select_macros,
            join_macros,
            reclaim_words,
            admit_words,
            summary_words,
            receiver_suffix_methods,
            extern_open_words,
            extern_close_words,
            handle_checker_prefixes,
            handle_checkers
        );
    }

    /// Whether `word` is in the list `list` of this vocabulary.
    pub fn has(list: &[String], word: &str) -> bool {
        list.iter().any(|w| w == word)
    }

    /// Whether `text` starts with a word of `list` (for prefix lists).
    pub fn starts(list: &[String], text: &str) -> bool {
        list.iter().any(|w| text.starts_with(w.as_str()))
    }

    /// Whether `text` ends with a word of `list` (for suffix lists).
    pub fn ends(list: &[String], text: &str) -> bool {
        list.iter().any(|w| text.ends_with(w.as_str()))
    }

    /// Whether `text` is a dotted name that ends in a word of `list`, at a
    /// `.`: `dp.startup.register` ends in `startup.register`, and
    /// `app.on_startup` does not end in `startup`.
    pub fn ends_name(list: &[String], text: &str) -> bool {
        list.iter().any(|w| {
            text.strip_suffix(w.as_str())
                .is_some_and(|head| head.is_empty() || head.ends_with('.'))
        })
    }

    /// Whether a word of `list` occurs anywhere in `text` (for word lists
    /// matched inside names, and for byte-level prefilters).
    pub fn within(list: &[String], text: &str) -> bool {
        list.iter().any(|w| text.contains(w.as_str()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError(pub String);

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SpecError {}

impl ResourceSpec {
    /// Checks what serde cannot: each acquire/release names exactly one
    /// form, methods say what they are called on.
    pub fn validate(&self) -> Result<(), SpecError> {
        let ctx = |msg: String| SpecError(format!("resource `{}`: {msg}", self.type_name));
        if self.type_name.trim().is_empty() {
            return Err(SpecError("resource with an empty `type`".into()));
        }
        if self.acquire.is_empty() {
            return Err(ctx("needs at least one `acquire`".into()));
        }
        for a in &self.acquire {
            match (&a.call, &a.method, &a.on) {
                (Some(_), None, None) | (None, Some(_), Some(_)) => {}
                _ => {
                    return Err(ctx(format!(
                        "an `acquire` entry needs either `call` or both `method` and `on`: {a:?}"
                    )))
                }
            }
        }
        for r in &self.release {
            match (&r.call, &r.method) {
                (Some(_), None) | (None, Some(_)) => {}
                _ => {
                    return Err(ctx(format!(
                        "a `release` entry needs exactly one of `call` and `method`: {r:?}"
                    )))
                }
            }
            if r.on.is_some() && r.arg.is_none() {
                return Err(ctx(format!(
                    "a `release` on an owner type needs `arg`: {r:?}"
                )));
            }
        }
        Ok(())
    }

    /// Whether `name` is this type or one of its aliases.
    pub fn is_type(&self, name: &str) -> bool {
        self.type_name == name || self.aliases.iter().any(|a| a == name)
    }
}

/// All resource specs for one language.
#[derive(Debug, Clone, Default)]
pub struct ResourceTable {
    pub specs: Vec<ResourceSpec>,
    /// The vocabulary of every built-in file of the language.
    pub vocabulary: Vocabulary,
    /// `specs` by type name and alias, acquiring call and acquiring
    /// method: the front ends ask these for nearly every call they see.
    index: TableIndex,
}

/// Positions in [`ResourceTable::specs`] (and in a spec's `acquire`), in
/// table order, so that a lookup finds what a scan in order would.
#[derive(Debug, Clone, Default)]
struct TableIndex {
    by_type: std::collections::HashMap<String, usize>,
    by_call: std::collections::HashMap<String, Vec<(usize, usize)>>,
    by_method: std::collections::HashMap<String, Vec<(usize, usize)>>,
    /// The last names of acquiring calls and methods and of resource
    /// types, and the names of release methods: byte-level tests that let
    /// a pass skip code that cannot acquire or release anything.
    acquiring: Option<aho_corasick::AhoCorasick>,
    releasing: Option<aho_corasick::AhoCorasick>,
    /// The vocabulary's release methods and every spec's.
    release_methods: std::collections::HashSet<String>,
}

fn last_segment(name: &str) -> &str {
    name.rsplit(['.', ':']).next().unwrap_or(name)
}

impl ResourceTable {
    pub fn new(specs: Vec<ResourceSpec>, vocabulary: Vocabulary) -> ResourceTable {
        let mut index = TableIndex::default();
        for (i, spec) in specs.iter().enumerate() {
            for name in std::iter::once(&spec.type_name).chain(&spec.aliases) {
                index.by_type.entry(name.clone()).or_insert(i);
            }
            for (j, a) in spec.acquire.iter().enumerate() {
                if let Some(call) = &a.call {
                    index.by_call.entry(call.clone()).or_default().push((i, j));
                }
                if let Some(method) = &a.method {
                    index
                        .by_method
                        .entry(method.clone())
                        .or_default()
                        .push((i, j));
                }
            }
        }
        let mut acquiring: Vec<&str> = Vec::new();
        let mut releasing: Vec<&str> = vocabulary
            .release_methods
            .iter()
            .map(String::as_str)
            .collect();
        for spec in &specs {
            acquiring.push(last_segment(&spec.type_name));
            for a in &spec.acquire {
                acquiring.extend(a.call.as_deref().map(last_segment));
                acquiring.extend(a.method.as_deref());
            }
            for r in &spec.release {
                releasing.extend(r.method.as_deref());
                releasing.extend(r.call.as_deref().map(last_segment));
            }
        }
        index.release_methods = vocabulary
            .release_methods
            .iter()
            .cloned()
            .chain(
                specs
                    .iter()
                    .flat_map(|s| s.release.iter().filter_map(|r| r.method.clone())),
            )
            .collect();
        let matcher = |mut words: Vec<&str>| {
            words.retain(|w| !w.is_empty());
            words.sort_unstable();
            words.dedup();
            aho_corasick::AhoCorasick::new(words).ok()
        };
        index.acquiring = matcher(acquiring);
        index.releasing = matcher(releasing);
        ResourceTable {
            specs,
            vocabulary,
            index,
        }
    }

    /// Whether `text` may acquire something: it writes the name of an
    /// acquiring call or method, or of a resource type (as a substring:
    /// a quick test, never a proof).
    pub fn may_acquire(&self, text: &str) -> bool {
        self.index
            .acquiring
            .as_ref()
            .is_some_and(|m| m.is_match(text))
    }

    /// Whether `text` may release something: it writes the name of a
    /// release method or call (a substring test, like [`Self::may_acquire`]).
    pub fn may_release(&self, text: &str) -> bool {
        self.index
            .releasing
            .as_ref()
            .is_some_and(|m| m.is_match(text))
    }

    /// The spec whose type (or an alias) is `name`.
    pub fn spec_of_type(&self, name: &str) -> Option<&ResourceSpec> {
        self.index.by_type.get(name).map(|&i| &self.specs[i])
    }

    /// The acquisitions by a call to the qualified name `name`, in table
    /// order.
    pub fn acquisitions_by_call<'a>(
        &'a self,
        name: &str,
    ) -> impl Iterator<Item = (&'a ResourceSpec, &'a Acquire)> + 'a {
        self.index
            .by_call
            .get(name)
            .into_iter()
            .flatten()
            .map(|&(i, j)| (&self.specs[i], &self.specs[i].acquire[j]))
    }

    /// The acquisitions by a method named `method`, in table order.
    pub fn acquisitions_by_method<'a>(
        &'a self,
        method: &str,
    ) -> impl Iterator<Item = (&'a ResourceSpec, &'a Acquire)> + 'a {
        self.index
            .by_method
            .get(method)
            .into_iter()
            .flatten()
            .map(|&(i, j)| (&self.specs[i], &self.specs[i].acquire[j]))
    }

    /// Whether a method of this name releases something: a word of the
    /// vocabulary's `release-methods`, or a release method of some spec.
    pub fn is_release_method(&self, method: &str) -> bool {
        self.index.release_methods.contains(method)
    }

    /// The specs that acquire through a call to the qualified name `name`.
    pub fn acquired_by_call<'a>(
        &'a self,
        name: &'a str,
    ) -> impl Iterator<Item = (&'a ResourceSpec, &'a Acquire)> + 'a {
        self.acquisitions_by_call(name)
    }
}

/// Parses and validates one library file.
pub fn parse_library(origin: &str, text: &str) -> Result<LibraryFile, SpecError> {
    let file: LibraryFile =
        toml::from_str(text).map_err(|e| SpecError(format!("{origin}: {e}")))?;
    if file.library.is_some() == file.framework.is_some() {
        return Err(SpecError(format!(
            "{origin}: a rules file names exactly one `library` or `framework`"
        )));
    }
    for spec in &file.resource {
        spec.validate()
            .map_err(|e| SpecError(format!("{origin}: {e}")))?;
        if spec.language.is_some_and(|l| l != file.language) {
            return Err(SpecError(format!(
                "{origin}: resource `{}` names a language other than the file's",
                spec.type_name
            )));
        }
    }
    Ok(file)
}

/// The built-in knowledge for one language plus the user's own specs.
pub fn table_for(language: SpecLanguage, extra: &[ResourceSpec]) -> ResourceTable {
    // Parsed once per process: every configuration directory builds its
    // tables from the same embedded files.
    static BUILT_IN: std::sync::OnceLock<Vec<LibraryFile>> = std::sync::OnceLock::new();
    let built_in = BUILT_IN.get_or_init(|| {
        EMBEDDED
            .iter()
            // Validated by a test; a broken embedded file is a build defect.
            .map(|(origin, text)| {
                parse_library(origin, text).expect("embedded rules file is valid")
            })
            .collect()
    });
    let mut specs: Vec<ResourceSpec> = built_in
        .iter()
        .filter(|f| f.language == language)
        .flat_map(|f| f.resource.iter().cloned())
        .collect();
    specs.extend(
        extra
            .iter()
            .filter(|s| s.language.unwrap_or(SpecLanguage::Python) == language)
            .cloned(),
    );
    let mut vocabulary = Vocabulary::default();
    for file in built_in.iter().filter(|f| f.language == language) {
        vocabulary.absorb(&file.vocabulary);
    }
    ResourceTable::new(specs, vocabulary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_file_parses_and_validates() {
        assert!(EMBEDDED.len() >= 4, "rules/ files are embedded");
        for (origin, text) in EMBEDDED {
            let file = parse_library(origin, text).unwrap_or_else(|e| panic!("{e}"));
            let dir = origin.split('/').next().unwrap();
            let expected = match (&file.framework, file.language) {
                (Some(_), _) => "frameworks",
                (None, SpecLanguage::Python) => "python",
                (None, SpecLanguage::Rust) => "rust",
            };
            assert_eq!(dir, expected, "{origin} is filed under the wrong folder");
            assert!(
                !file.resource.is_empty() || file.vocabulary != Vocabulary::default(),
                "{origin} declares no resource and no vocabulary"
            );
            // Every `on` names a type declared somewhere for that language.
            let table = table_for(file.language, &[]);
            for spec in &file.resource {
                for on in spec
                    .acquire
                    .iter()
                    .filter_map(|a| a.on.as_deref())
                    .filter(|on| *on != "*")
                {
                    assert!(
                        table.specs.iter().any(|s| s.is_type(on)),
                        "{origin}: unknown type {on}"
                    );
                }
            }
        }
    }

    #[test]
    fn sqlite3_connect_is_a_transaction_only_with() {
        let table = table_for(SpecLanguage::Python, &[]);
        let (spec, _) = table.acquired_by_call("sqlite3.connect").next().unwrap();
        assert_eq!(spec.with_semantics, Some(WithSemantics::Transaction));
        let (spec, _) = table.acquired_by_call("psycopg.connect").next().unwrap();
        assert_eq!(spec.with_semantics, Some(WithSemantics::Closes));
        let libraries = crate::python::analyse::LibraryModules::new(&table);
        assert!(libraries.imported_by("import psycopg2\nc = psycopg2.connect()\n"));
        // An import alone acquires nothing: the prefilter also wants a name
        // that acquires (or is a resource type) somewhere in the text.
        assert!(!libraries.imported_by("import psycopg2\n"));
        assert!(!libraries.imported_by("import os\nos.connect()\n"));
    }

    #[test]
    fn invalid_specs_are_rejected_with_the_reason() {
        let bad = r#"
library = "x"
language = "python"
[[resource]]
type = "x.C"
kind = "connection"
acquire = [{ method = "open" }]
"#;
        let err = parse_library("x.toml", bad).unwrap_err();
        assert!(err.0.contains("both `method` and `on`"), "{err}");
        let unknown = "library = \"x\"\nlanguage = \"python\"\ncolour = 1\n";
        assert!(parse_library("x.toml", unknown)
            .unwrap_err()
            .0
            .contains("colour"));
        let kind = "library = \"x\"\nlanguage = \"python\"\n[[resource]]\ntype = \"a\"\nkind = \"socket\"\nacquire = [{ call = \"a\" }]\n";
        assert!(parse_library("x.toml", kind)
            .unwrap_err()
            .0
            .contains("socket"));
    }
}
