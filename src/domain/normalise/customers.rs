//! Customers: from a customer object, or a stub from a reference to one.

use super::{Reader, entity_id, metadata, object, string_at, timestamp};
use entity::customer;
use serde_json::{Map, Value};

impl Reader {
    pub(super) fn customer(&mut self, value: Option<&Value>) {
        let Some(id) = entity_id(value, "cust_") else {
            return;
        };
        let value = value.unwrap_or(&Value::Null);
        let row = customer::Model {
            source_id: string_at(Some(value), "source_id"),
            name: string_at(Some(value), "name"),
            email: string_at(Some(value), "email"),
            metadata: metadata(value),
            address: object(value.get("address")),
            created_at: timestamp(value.get("created_at")),
            updated_at: timestamp(value.get("updated_at")),
            facts_at: self.facts_at(value),
            event_id: 0,
            deleted_at: None,
            id,
        };
        match self.customers.iter_mut().find(|c| c.id == row.id) {
            // A stub made earlier from a reference gives way to the real facts.
            Some(seen) if seen.facts_at == i64::MIN => *seen = row,
            Some(seen) => {
                seen.source_id = seen.source_id.take().or(row.source_id);
                seen.name = seen.name.take().or(row.name);
                seen.email = seen.email.take().or(row.email);
                seen.address = seen.address.take().or(row.address);
            }
            None => self.customers.push(row),
        }
    }

    /// A row for customer `id` unless this payload already carries one; as a stub it never
    /// overwrites facts stored from another payload.
    pub(super) fn customer_stub(&mut self, id: &str) {
        if !self.customers.iter().any(|c| c.id == id) {
            self.customers.push(stub_customer(id));
        }
    }
}

fn stub_customer(id: &str) -> customer::Model {
    customer::Model {
        id: id.to_owned(),
        source_id: None,
        name: None,
        email: None,
        metadata: Value::Object(Map::new()),
        address: None,
        created_at: None,
        updated_at: None,
        facts_at: i64::MIN,
        event_id: 0,
        deleted_at: None,
    }
}
