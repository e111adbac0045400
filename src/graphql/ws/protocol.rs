//! The two sub-protocols side by side: graphql-transport-ws and the legacy graphql-ws
//! (subscriptions-transport-ws). Everything they do differently is decided here; the
//! connection and its operations ask.

use serde_json::{Value, json};

/// The sub-protocol a connection speaks.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Protocol {
    /// graphql-transport-ws (the graphql-ws library's protocol).
    Modern,
    /// graphql-ws (subscriptions-transport-ws).
    Legacy,
}

/// What a client message asks for, whatever the protocol calls it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Command {
    Init,
    Ping,
    Pong,
    Subscribe,
    Complete,
    Terminate,
}

impl Protocol {
    /// The `Sec-WebSocket-Protocol` names, preferred first.
    pub const NAMES: [&'static str; 2] = ["graphql-transport-ws", "graphql-ws"];

    /// The protocol of the negotiated name (graphql-transport-ws when the client named none).
    pub fn chosen(name: Option<&str>) -> Self {
        match name {
            Some("graphql-ws") => Protocol::Legacy,
            _ => Protocol::Modern,
        }
    }

    /// What a client message of type `kind` asks for; `None` when this protocol has no such
    /// message (the connection then closes with 4400).
    pub fn command(self, kind: &str) -> Option<Command> {
        use Protocol::{Legacy, Modern};
        match (self, kind) {
            (_, "connection_init") => Some(Command::Init),
            (Modern, "ping") => Some(Command::Ping),
            (Modern, "pong") => Some(Command::Pong),
            (Modern, "subscribe") | (Legacy, "start") => Some(Command::Subscribe),
            (Modern, "complete") | (Legacy, "stop") => Some(Command::Complete),
            (Legacy, "connection_terminate") => Some(Command::Terminate),
            _ => None,
        }
    }

    /// The `type` of a message carrying one result.
    pub fn next(self) -> &'static str {
        match self {
            Protocol::Modern => "next",
            Protocol::Legacy => "data",
        }
    }

    /// What the server sends to keep an idle connection alive.
    pub fn keep_alive(self) -> Value {
        match self {
            Protocol::Modern => json!({"type": "ping"}),
            Protocol::Legacy => json!({"type": "ka"}),
        }
    }

    /// True when an operation that ended with `error` is also sent `complete`.
    pub fn completes_after_error(self) -> bool {
        self == Protocol::Legacy
    }

    /// What is sent, before closing 4403, to a client whose `connection_init` is refused.
    pub fn init_refused(self) -> Option<Value> {
        (self == Protocol::Legacy)
            .then(|| json!({"type": "connection_error", "payload": {"message": "Forbidden"}}))
    }

    /// What follows `connection_ack`.
    pub fn after_ack(self) -> Option<Value> {
        (self == Protocol::Legacy).then(|| self.keep_alive())
    }
}
