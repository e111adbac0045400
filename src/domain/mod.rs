//! The domain: plain data and pure functions that both edges and the store share. What a
//! delivery's envelope says, the facts it carries (normalised), a delivery ready to store and
//! what storing it did, and the opaque cursors clients page and resume with. Nothing here does
//! I/O or knows about HTTP, GraphQL or SQL.

pub mod cursor;
pub mod delivery;
pub mod envelope;
pub mod normalise;
