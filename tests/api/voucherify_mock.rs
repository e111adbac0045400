//! An in-process Voucherify REST API for the backfill tests: `GET /v1/publications` and
//! `GET /v1/campaigns/{name}`, built from Voucherify's OpenAPI description of the endpoint
//! (`tests/fixtures/rest/publications.openapi.json`: its `limit` bounds and `order` values) and
//! its list example (the publications it serves are the example's three, under new ids), with
//! faults that can be scheduled: 429s, 5xx, a slow answer, an outage, an API that ignores the
//! created_at window.

use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
};
use chrono::{DateTime, Duration as TimeDelta, SecondsFormat, Utc};
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const APP_ID: &str = "mock-app";
pub const APP_TOKEN: &str = "mock-token";

/// What the next request to the publications list gets instead of its page.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fault {
    /// The right answer.
    Pass,
    /// 429 with `Retry-After: 0`.
    TooMany,
    /// 500, then 502, as a struggling gateway would.
    ServerError(u16),
    /// The right answer, after this long.
    Slow(Duration),
}

#[derive(Default)]
struct Behaviour {
    /// Taken one per publications request, before serving it.
    faults: VecDeque<Fault>,
    /// Every publications request from now on answers 503 (an outage).
    down: bool,
    /// Serve pages without applying the created_at filter.
    ignore_window: bool,
    /// Publications pages served after which the API goes down.
    down_after_pages: Option<u64>,
}

/// The mock's data, behaviour and what it was asked.
pub struct Mock {
    publications: Vec<Value>,
    /// Each publication's creation time, in the same (ascending) order.
    created: Vec<DateTime<Utc>>,
    campaigns: HashMap<String, Value>,
    /// Pages beyond this answer `page_over_limit`, as the real API does beyond 1000.
    max_page: u32,
    limits: (u64, u64),
    orders: Vec<String>,
    behaviour: Mutex<Behaviour>,
    /// (window start, page) of every publications page served.
    pub served: Mutex<Vec<(String, u32)>>,
    pub campaign_requests: Mutex<Vec<String>>,
}

impl Mock {
    pub fn new(publications: Vec<Value>, campaigns: Vec<Value>, max_page: u32) -> Arc<Mock> {
        let spec: Value =
            serde_json::from_slice(&crate::helpers::fixture("rest/publications.openapi.json"))
                .expect("the spec parses");
        let schemas = &spec["components"]["schemas"];
        let limit = &schemas["ParameterLimit"];
        let orders = schemas["ParameterOrderListPublications"]["enum"]
            .as_array()
            .expect("order values")
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        let mut publications = publications;
        publications.sort_by(|a, b| {
            (a["created_at"].as_str(), a["id"].as_str())
                .cmp(&(b["created_at"].as_str(), b["id"].as_str()))
        });
        let created = publications
            .iter()
            .map(|p| instant(p["created_at"].as_str()).expect("a creation time"))
            .collect();
        Arc::new(Mock {
            created,
            publications,
            campaigns: campaigns
                .into_iter()
                .map(|c| (c["name"].as_str().expect("a name").to_owned(), c))
                .collect(),
            max_page,
            limits: (
                limit["minimum"].as_u64().expect("minimum"),
                limit["maximum"].as_u64().expect("maximum"),
            ),
            orders,
            behaviour: Mutex::default(),
            served: Mutex::default(),
            campaign_requests: Mutex::default(),
        })
    }

    pub fn fail_next(&self, faults: impl IntoIterator<Item = Fault>) {
        self.behaviour.lock().expect("lock").faults.extend(faults);
    }

    pub fn go_down_after_pages(&self, pages: u64) {
        self.behaviour.lock().expect("lock").down_after_pages = Some(pages);
    }

    pub fn come_back(&self) {
        let mut behaviour = self.behaviour.lock().expect("lock");
        behaviour.down = false;
        behaviour.down_after_pages = None;
    }

    pub fn ignore_window(&self) {
        self.behaviour.lock().expect("lock").ignore_window = true;
    }

    /// Serves the mock on 127.0.0.1; returns its base URL.
    pub async fn serve(self: &Arc<Self>) -> String {
        let router = Router::new()
            .route("/v1/publications", get(list))
            .route("/v1/campaigns/{name}", get(campaign))
            .with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the mock");
        let addr = listener.local_addr().expect("an address");
        tokio::spawn(async move { axum::serve(listener, router).await });
        format!("http://{addr}")
    }
}

fn error(status: StatusCode, key: &str, message: &str) -> Response {
    let body = json!({"code": status.as_u16(), "key": key, "message": message,
                      "request_id": "v-mock"});
    (status, Json(body)).into_response()
}

fn authorised(headers: &HeaderMap) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    header("x-app-id") == Some(APP_ID) && header("x-app-token") == Some(APP_TOKEN)
}

fn instant(text: Option<&str>) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

async fn list(
    State(mock): State<Arc<Mock>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if !authorised(&headers) {
        return error(StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized");
    }
    let (fault, ignore_window) = {
        let mut behaviour = mock.behaviour.lock().expect("lock");
        let served = mock.served.lock().expect("lock").len() as u64;
        if behaviour.down_after_pages.is_some_and(|n| served >= n) {
            behaviour.down = true;
        }
        if behaviour.down {
            return error(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "Down");
        }
        (behaviour.faults.pop_front(), behaviour.ignore_window)
    };
    match fault {
        Some(Fault::TooMany) => {
            let mut response = error(StatusCode::TOO_MANY_REQUESTS, "too_many", "Slow down");
            response
                .headers_mut()
                .insert("retry-after", "0".parse().expect("header"));
            return response;
        }
        Some(Fault::ServerError(code)) => {
            let status = StatusCode::from_u16(code).expect("a status");
            return error(status, "server_error", "Internal error");
        }
        Some(Fault::Slow(wait)) => tokio::time::sleep(wait).await,
        Some(Fault::Pass) | None => {}
    }
    let limit: u64 = query
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(10);
    if limit < mock.limits.0 || limit > mock.limits.1 {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_param",
            "limit out of range",
        );
    }
    let page: u32 = query.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
    if page == 0 {
        return error(StatusCode::BAD_REQUEST, "invalid_param", "page starts at 1");
    }
    if page > mock.max_page {
        return error(
            StatusCode::BAD_REQUEST,
            "page_over_limit",
            "Page over limit",
        );
    }
    let order = query.get("order").map_or("created_at", String::as_str);
    if !mock.orders.iter().any(|o| o == order) {
        return error(StatusCode::BAD_REQUEST, "invalid_param", "unknown order");
    }
    assert!(
        ["created_at", "-created_at"].contains(&order),
        "the backfill reads by creation time"
    );
    let bound = |key: &str| instant(query.get(key).map(String::as_str));
    let from = bound("filters[created_at][conditions][$more_than_equal][0]");
    let until = bound("filters[created_at][conditions][$less_than][0]");
    // The publications are in creation order: the window is a range of them.
    let (first, end) = match ignore_window {
        true => (0, mock.created.len()),
        false => (
            from.map_or(0, |f| mock.created.partition_point(|at| *at < f)),
            until.map_or(mock.created.len(), |u| {
                mock.created.partition_point(|at| *at < u)
            }),
        ),
    };
    let matching = &mock.publications[first..end.max(first)];
    let start = ((page - 1) as u64 * limit) as usize;
    let ordered: Box<dyn Iterator<Item = &Value>> = match order {
        "-created_at" => Box::new(matching.iter().rev()),
        _ => Box::new(matching.iter()),
    };
    let items: Vec<Value> = ordered.skip(start).take(limit as usize).cloned().collect();
    mock.served.lock().expect("lock").push((
        query
            .get("filters[created_at][conditions][$more_than_equal][0]")
            .cloned()
            .unwrap_or_default(),
        page,
    ));
    Json(
        json!({"object": "list", "data_ref": "publications", "publications": items,
                "total": matching.len()}),
    )
    .into_response()
}

async fn campaign(
    State(mock): State<Arc<Mock>>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    if !authorised(&headers) {
        return error(StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized");
    }
    mock.campaign_requests
        .lock()
        .expect("lock")
        .push(name.clone());
    match mock.campaigns.get(&name) {
        Some(campaign) => Json(campaign.clone()).into_response(),
        None => error(StatusCode::NOT_FOUND, "not_found", "Resource not found"),
    }
}

/// The campaigns the generated publications name: three the API knows, one it does not.
pub const CAMPAIGNS: [&str; 4] = [
    "Loyalty Campaign",
    "Gift Cards",
    "Spring Discounts",
    "Gone Campaign",
];

/// The campaign objects the API serves for `CAMPAIGNS` (not the last: it was deleted), shaped
/// like the documented campaign example.
pub fn campaigns() -> Vec<Value> {
    let example =
        crate::helpers::fixture_json("data/campaign.created.data.openapi-events.json")["campaign"]
            .clone();
    CAMPAIGNS[..3]
        .iter()
        .enumerate()
        .map(|(n, name)| {
            let mut campaign = example.clone();
            campaign["id"] = json!(campaign_id(name));
            campaign["name"] = json!(name);
            campaign["voucher"]["type"] =
                json!(["LOYALTY_CARD", "GIFT_VOUCHER", "DISCOUNT_VOUCHER"][n]);
            campaign
        })
        .collect()
}

pub fn campaign_id(name: &str) -> String {
    format!("camp_{}", name.to_lowercase().replace(' ', "_"))
}

/// `n` publications created from `start` on, oldest first: the documented example's three
/// shapes (loyalty card, discount without a campaign, gift card) under new ids, several
/// vouchers in every 11th, a failed publication every 13th, and runs of publications that share
/// one creation instant (so that windows start inside them).
pub fn listing(n: usize, start: DateTime<Utc>) -> Vec<Value> {
    let example = crate::helpers::fixture_json(
        "data/api.list-publications.GET-v1-publications.response.readOnly-openAPI.json",
    );
    let templates = example["publications"]
        .as_array()
        .expect("examples")
        .clone();
    let mut at = start;
    (0..n)
        .map(|i| {
            if i % 5 != 0 {
                at += TimeDelta::milliseconds(1 + (i as i64 * 7919) % 60_000);
            }
            let mut p = templates[i % 3].clone();
            let customer = format!("cust_{:04}", i % 50);
            p["id"] = json!(format!("pub_{i:06}"));
            p["created_at"] = json!(at.to_rfc3339_opts(SecondsFormat::Millis, true));
            p["customer_id"] = json!(customer);
            p["customer"]["id"] = json!(customer);
            p["customer"]["name"] = json!(format!("Customer {}", i % 50));
            p["customer"]["email"] = json!(format!("c{}@example.com", i % 50));
            p["channel"] = json!(["API", "Automation", "voucherify-website"][i % 3]);
            p["vouchers_id"] = json!([format!("v_{i:06}")]);
            p["voucher"]["code"] = json!(format!("CODE-{i:06}"));
            p["voucher"]["campaign"] = campaign_of(i).map_or(Value::Null, |name| json!(name));
            if several(i) {
                p.as_object_mut().expect("object").remove("voucher");
                p["vouchers"] = json!([format!("CODE-{i:06}-A"), format!("CODE-{i:06}-B")]);
                p["vouchers_id"] = json!([format!("v_{i:06}_a"), format!("v_{i:06}_b")]);
            }
            if failed(i) {
                p["result"] = json!("FAILURE");
                p["failure_code"] = json!("no_voucher_suitable_for_publication");
                p["vouchers_id"] = json!([]);
                p.as_object_mut().expect("object").remove("voucher");
                p.as_object_mut().expect("object").remove("vouchers");
            }
            p
        })
        .collect()
}

/// The campaign name publication `i` of `listing` gives.
pub fn campaign_of(i: usize) -> Option<&'static str> {
    match (i % 3, i % 2) {
        _ if several(i) => None,
        (0, 0) => Some(CAMPAIGNS[0]),
        (0, _) => Some(CAMPAIGNS[3]),
        (1, 0) => Some(CAMPAIGNS[2]),
        (1, _) => None,
        _ => Some(CAMPAIGNS[1]),
    }
}

/// Publication `i` of `listing` assigned several vouchers (codes only).
pub fn several(i: usize) -> bool {
    i % 11 == 7
}

/// Publication `i` of `listing` failed.
pub fn failed(i: usize) -> bool {
    i % 13 == 12
}
