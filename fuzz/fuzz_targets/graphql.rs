//! Arbitrary GraphQL documents against the real schema, built by `App::build` on an in-memory
//! SQLite store seeded once per process with fixture deliveries through the real ingest path.
//!
//! Input: the UTF-8 document, optionally followed by a NUL byte and a JSON object of variables.
//! Invariants: never panics (libfuzzer-sys aborts on any panic, in any thread); the response
//! serialises; and no document makes a healthy store answer `INTERNAL` (a database error or a
//! dangling reference), which is never the client's fault. Deeply nested documents are fed in
//! as they are (fuzz/crashes-found/graphql-nested-list-stack-overflow.graphql): the schema's guard
//! must refuse them before async-graphql's parser recurses, or the process dies of a stack overflow.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pubgate::{
    App, Config,
    graphql::loaders::Loaders,
    domain::delivery::{Delivery, Outcome},
    domain::{envelope, normalise},
};
use serde_json::{Value, json};
use std::{path::Path, sync::LazyLock};

struct Env {
    rt: tokio::runtime::Runtime,
    app: App,
    schema: pubgate::graphql::AppSchema,
}

static ENV: LazyLock<Env> = LazyLock::new(|| {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let app = rt.block_on(async {
        let mut config = Config::new("127.0.0.1:0".parse().expect("address"), "sqlite::memory:");
        // sqlx makes `sqlite::memory:` one shared-cache database for the whole pool; a single
        // connection also keeps it alive and avoids shared-cache table locks.
        config.db_max_connections = 1;
        let app = App::build(config).await.expect("the app builds");
        seed(&app).await;
        app
    });
    let state = app.state();
    let schema = pubgate::graphql::schema(state.db.clone(), state.feed.clone(), &state.config);
    Env { rt, app, schema }
});

/// `PUBGATE_FUZZ_PRINT=1` prints every response (to look at what a corpus does).
static PRINT: LazyLock<bool> = LazyLock::new(|| std::env::var_os("PUBGATE_FUZZ_PRINT").is_some());

fn fixtures() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures"))
}

fn fixture(path: &str) -> Value {
    let bytes = std::fs::read(fixtures().join(path)).expect("fixture");
    serde_json::from_slice(&bytes).expect("fixture JSON")
}

/// `data` in a v2024-01-01 distribution envelope (as tests/api/helpers.rs `wrap`).
fn wrap(event_type: &str, event_id: &str, data: Value) -> Value {
    json!({
        "id": format!("whs_{event_id}"),
        "project_id": "proj_fuzz",
        "created_at": "2024-03-13T13:45:59.600Z",
        "type": "Fuzz-webhook",
        "data": data,
        "source": {"id": "distr_fuzz", "object": "distribution", "target_url": "http://127.0.0.1/"},
        "event": {"id": event_id, "type": event_type, "created_at": "2024-03-13T13:45:59.492Z",
                  "entity_id": "x", "group_id": "g", "event_source": {"channel": "API"}},
    })
}

async fn seed(app: &App) {
    let mut bodies: Vec<Vec<u8>> = vec![];
    for path in [
        "envelopes/CONSTRUCTED.distribution.customer.publication.succeeded.full-envelope.json",
        "envelopes/ENVELOPE.distribution.customer.redemption.succeeded.docs-distribution-webhooks.json",
        "envelopes/ENVELOPE.distribution.payload-designer.sample-output.docs-distribution-webhooks.json",
        "envelopes/ENVELOPE.project-settings.voucher.published.docs-project-settings-webhooks.json",
        "envelopes/RAW.distribution.payload-designer.raw-payload.docs-distribution-webhooks.json",
    ] {
        bodies.push(std::fs::read(fixtures().join(path)).expect("fixture"));
    }
    for (n, event_type) in [
        "customer.publication.succeeded",
        "publication.succeeded",
        "voucher.published",
        "distribution.manual_distribution_schedule",
        "campaign.created",
        "customer.created",
        "voucher.created",
        "voucher.updated",
        "customer.deleted",
        "redemption.succeeded",
    ]
    .into_iter()
    .enumerate()
    {
        let data = fixture(&format!("data/{event_type}.data.openapi-events.json"));
        bodies.push(
            serde_json::to_vec(&wrap(event_type, &format!("ev_fuzz_{n}"), data)).expect("json"),
        );
    }
    // Awkward text the store must keep: NUL, unicode, quotes, SQL-ish characters.
    bodies.push(
        serde_json::to_vec(&json!({
            "id": "whs_odd", "type": "odd\u{0}name", "data": {
                "customer": {"id": "cust_odd'%_\\", "name": "Zoë \u{0} O'Brien 😀", "metadata": {"k\u{0}": [1, -2.5e300, null]}}
            }
        }))
        .expect("json"),
    );
    let state = app.state();
    for body in bodies {
        let value: Value = serde_json::from_slice(&body).expect("seed is JSON");
        let received_at = envelope::now();
        let env = envelope::Envelope::read(&body, &value);
        let normalised = normalise::normalise(&value, &env, received_at);
        let delivery = Delivery {
            envelope: env,
            normalised,
            body: String::from_utf8(body).expect("seed is UTF-8"),
            received_at,
            signature_verified: false,
        };
        let outcome = state.ingest.submit(delivery).await.expect("seed stored");
        assert!(matches!(outcome, Outcome::Stored(_)), "{outcome:?}");
    }
}

fn codes(response: &async_graphql::Response) -> Vec<String> {
    response
        .errors
        .iter()
        .filter_map(|e| e.extensions.as_ref()?.get("code").cloned())
        .map(|code| code.to_string())
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let (document, variables) = match data.iter().position(|b| *b == 0) {
        Some(at) => (&data[..at], Some(&data[at + 1..])),
        None => (data, None),
    };
    let Ok(document) = std::str::from_utf8(document) else {
        return;
    };
    let env = &*ENV;
    let state = env.app.state();
    let mut request = async_graphql::Request::new(document).data(Loaders::new(&state.db));
    if let Some(Ok(vars @ Value::Object(_))) = variables.map(serde_json::from_slice::<Value>) {
        request = request.variables(async_graphql::Variables::from_json(vars));
    }
    let schema = env.schema.clone();
    // On a runtime worker, like a request in the server (2 MiB stack, not the main thread's 8).
    let response = env
        .rt
        .block_on(env.rt.spawn(async move { schema.execute(request).await }))
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    let json = serde_json::to_string(&response).expect("the response serialises");
    if *PRINT {
        eprintln!("{json}");
    }
    let codes = codes(&response);
    assert!(
        !codes.iter().any(|c| c.contains("INTERNAL")),
        "INTERNAL error for {document:?}: {:?}",
        response.errors
    );
});
