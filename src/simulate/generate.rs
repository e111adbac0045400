//! Realistic Voucherify publication deliveries: every voucher type, every discount type, gift
//! and loyalty cards, categories, metadata, unicode names, null emails, old and new formats,
//! project-settings and distribution envelopes, and exact re-sends on purpose.
//!
//! Like a Voucherify project, campaign names, voucher codes and category names are unique: each
//! run draws its ids, names and codes from one run tag that no other seed shares, and a given
//! id always comes with the same name or code.

use chrono::{Duration, SecondsFormat, Utc};
use rand::{Rng, SeedableRng, rngs::StdRng, seq::IndexedRandom};
use serde_json::{Value, json};

const FIRST: [&str; 12] = [
    "Zoë",
    "Jürgen",
    "Олена",
    "李",
    "Søren",
    "محمد",
    "Ana",
    "José",
    "Åsa",
    "Nguyễn",
    "Chloé",
    "Jack",
];
const LAST: [&str; 10] = [
    "Ångström",
    "Müller",
    "Коваленко",
    "雷",
    "Kierkegaard",
    "Haddad",
    "Núñez",
    "O'Brien",
    "Łukasz",
    "Webhook",
];
const CHANNELS: [&str; 5] = [
    "API",
    "Automation",
    "voucherify-web-ui",
    "Dashboard",
    "USER_PORTAL",
];
const REGIONS: [&str; 4] = ["EMEA", "AMER", "APAC", "LATAM"];

#[derive(Clone)]
struct CampaignSpec {
    index: u64,
    id: String,
    name: String,
    voucher_type: &'static str,
    discount: Option<Value>,
    categories: Vec<Value>,
    prefix: String,
}

/// Makes deliveries one at a time; the same seed makes the same sequence.
pub struct Generator {
    rng: StdRng,
    run: String,
    customers: u64,
    campaigns: Vec<CampaignSpec>,
    issued: u64,
    duplicate_ratio: f64,
    recent: Vec<Vec<u8>>,
}

impl Generator {
    /// A generator over `customers` customers and `campaigns` campaigns.
    pub fn new(seed: u64, customers: u64, campaigns: u64, duplicate_ratio: f64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let run = run_tag(seed);
        let campaigns = (0..campaigns.max(1))
            .map(|n| campaign_spec(&mut rng, &run, n))
            .collect();
        Generator {
            rng,
            run,
            customers: customers.max(1),
            campaigns,
            issued: 0,
            duplicate_ratio,
            recent: Vec::new(),
        }
    }

    /// The next delivery body (compact JSON, as Voucherify signs it).
    pub fn next_body(&mut self) -> Vec<u8> {
        if !self.recent.is_empty() && self.rng.random_bool(self.duplicate_ratio.clamp(0.0, 1.0)) {
            let index = self.rng.random_range(0..self.recent.len());
            return self.recent[index].clone();
        }
        self.issued += 1;
        let body = serde_json::to_vec(&self.delivery()).unwrap_or_default();
        if self.recent.len() < 64 {
            self.recent.push(body.clone());
        } else {
            let slot = (self.issued % 64) as usize;
            self.recent[slot] = body.clone();
        }
        body
    }

    fn delivery(&mut self) -> Value {
        let n = self.issued;
        let now = Utc::now();
        let at = |offset_ms: i64| {
            (now - Duration::milliseconds(offset_ms)).to_rfc3339_opts(SecondsFormat::Millis, true)
        };
        let customer = self.customer();
        let campaign = self
            .campaigns
            .choose(&mut self.rng)
            .cloned()
            .unwrap_or_else(|| campaign_spec(&mut self.rng, &self.run, 0));
        let voucher = self.voucher(&campaign, &customer, &at);
        let publication_id = format!("pub_{}{n:012}", self.run);
        let mut publication = json!({
            "id": publication_id, "object": "publication", "result": "SUCCESS",
            "channel": *CHANNELS.choose(&mut self.rng).unwrap_or(&"API"),
            "customer_id": customer["id"], "tracking_id": customer["source_id"],
            "metadata": {"simulated": true, "batch": n / 100},
            "source_id": if self.rng.random_bool(0.3) { json!(format!("src-{n}")) } else { Value::Null },
            "created_at": at(5), "vouchers_id": [voucher["id"]],
            "customer": customer.clone(),
        });
        let campaign_json = json!({
            "id": campaign.id, "name": campaign.name, "campaign_type": campaign_type(campaign.voucher_type),
            "type": "AUTO_UPDATE", "is_referral_code": false, "active": true,
            "voucher": {"type": campaign.voucher_type, "discount": campaign.discount},
            "metadata": {}, "created_at": at(86_400_000), "updated_at": at(3_600_000), "object": "campaign",
        });
        let roll = self.rng.random_range(0..100);
        let (event_type, name, data, source) = if roll < 60 {
            publication["voucher"] = voucher.clone();
            let data = json!({"customer": customer, "campaign": campaign_json, "publication": publication, "voucher": voucher});
            (
                "customer.publication.succeeded",
                "Voucher-published-to-customer",
                data,
                format!("distr_{}", self.run),
            )
        } else if roll < 80 {
            // Old-format data: no top-level voucher, the vouchers only in `vouchers[]`.
            let data = json!({"customer": customer, "campaign": campaign_json, "publication": publication, "vouchers": [voucher]});
            (
                "publication.succeeded",
                "publication-done",
                data,
                format!("distr_{}", self.run),
            )
        } else if roll < 95 {
            let data = json!({"customer": customer, "campaign": campaign_json, "publication": publication, "voucher": voucher, "created_at": at(0)});
            (
                "voucher.published",
                "voucher.published",
                data,
                format!("wh_{}", self.run),
            )
        } else {
            (
                "customer.updated",
                "customer.updated",
                json!({"customer": customer}),
                format!("wh_{}", self.run),
            )
        };
        let prefix = if source.starts_with("wh_") {
            "evvou"
        } else {
            "evcus"
        };
        json!({
            "id": format!("whs_{}{n:012}", self.run), "project_id": "proj_simulated", "created_at": at(0),
            "type": name, "data": data,
            "source": {"id": source, "object": if source.starts_with("wh_") { "webhook" } else { "distribution" },
                       "target_url": "http://127.0.0.1/webhooks/voucherify"},
            "event": {"id": format!("{prefix}_{}{n:012}", self.run), "type": event_type, "created_at": at(0),
                      "entity_id": customer["id"], "group_id": format!("v-{}{n:012}", self.run),
                      "event_source": {"channel": "API"}},
        })
    }

    /// The id of customer `k` (from 0, below `customers`) of this run: what a subscriber filters
    /// on to follow one simulated customer.
    pub fn customer_id(&self, k: u64) -> String {
        format!("cust_{}{k:08}", self.run)
    }

    fn customer(&mut self) -> Value {
        let k = self.rng.random_range(0..self.customers);
        let first = FIRST[(k % FIRST.len() as u64) as usize];
        let last = LAST[((k / 7) % LAST.len() as u64) as usize];
        let email = if k % 5 == 0 {
            Value::Null
        } else {
            json!(format!("customer{k}@example.com"))
        };
        json!({
            "id": self.customer_id(k), "source_id": format!("src-{}-{k}", self.run),
            "name": format!("{first} {last}"), "email": email, "object": "customer",
            "metadata": {"region": REGIONS[(k % 4) as usize], "vip": k % 11 == 0},
        })
    }

    fn voucher(
        &mut self,
        campaign: &CampaignSpec,
        customer: &Value,
        at: &dyn Fn(i64) -> String,
    ) -> Value {
        let n = self.issued;
        // The id names the campaign as well, so that an id never comes with two codes, even
        // from runs with the same seed and another `--campaigns`.
        let id = format!("v_{}{:04}{n:08}", self.run, campaign.index);
        let code = format!("{}{n:06X}", campaign.prefix);
        let mut voucher = json!({
            "id": id, "code": code, "object": "voucher",
            "campaign": campaign.name, "campaign_id": campaign.id, "holder_id": customer["id"],
            "active": true, "is_referral_code": false,
            "categories": campaign.categories, "category_id": campaign.categories.first().map(|c| c["id"].clone()),
            "metadata": {"source": "simulate", "tier": self.rng.random_range(1..4)},
            "redemption": {"quantity": if self.rng.random_bool(0.5) { json!(1) } else { Value::Null }, "redeemed_quantity": 0},
            "start_date": Value::Null, "expiration_date": at(-30 * 86_400_000),
            "created_at": at(60_000), "updated_at": at(10),
        });
        match campaign.voucher_type {
            "GIFT_VOUCHER" => {
                let amount = self.rng.random_range(10..500) * 100;
                voucher["gift"] =
                    json!({"amount": amount, "balance": amount, "effect": "APPLY_TO_ORDER"});
            }
            "LOYALTY_CARD" => {
                let points = self.rng.random_range(0..2000);
                voucher["loyalty_card"] = json!({"points": points, "balance": points});
            }
            _ => voucher["discount"] = campaign.discount.clone().unwrap_or(Value::Null),
        }
        // A third of vouchers leave out `type`: the gateway must derive it.
        if self.rng.random_range(0..3) != 0 {
            voucher["type"] = json!(campaign.voucher_type);
        }
        voucher
    }
}

fn campaign_spec(rng: &mut StdRng, run: &str, n: u64) -> CampaignSpec {
    let kinds = ["AMOUNT", "PERCENT", "UNIT", "FIXED", "GIFT", "LOYALTY"];
    let kind = kinds[(n % kinds.len() as u64) as usize];
    let discount = match kind {
        "AMOUNT" => Some(
            json!({"type": "AMOUNT", "amount_off": rng.random_range(5..50) * 100, "effect": "APPLY_TO_ORDER"}),
        ),
        "PERCENT" => Some(
            json!({"type": "PERCENT", "percent_off": rng.random_range(5..50), "amount_limit": 3000, "effect": "APPLY_TO_ORDER"}),
        ),
        "UNIT" => Some(
            json!({"type": "UNIT", "unit_off": rng.random_range(1..3), "unit_type": "prod_simulated", "effect": "ADD_MISSING_ITEMS"}),
        ),
        "FIXED" => Some(
            json!({"type": "FIXED", "fixed_amount": rng.random_range(10..100) * 100, "effect": "APPLY_TO_ITEMS"}),
        ),
        _ => None,
    };
    let voucher_type = match kind {
        "GIFT" => "GIFT_VOUCHER",
        "LOYALTY" => "LOYALTY_CARD",
        _ => "DISCOUNT_VOUCHER",
    };
    let categories = (0..n % 3)
        .map(|c| {
            let name = ["Gold", "Été", "早鸟"][c as usize];
            // One project, one category per name: every run uses the same ones.
            json!({"id": format!("cat_simulated{c}"), "name": name, "hierarchy": c, "object": "category"})
        })
        .collect();
    CampaignSpec {
        index: n,
        id: format!("camp_{run}{n:04}"),
        name: format!("{} campaign {n} ({run})", kind.to_lowercase()),
        voucher_type,
        discount,
        categories,
        prefix: format!("{}-{n}-{}-", &kind[..3], run.to_uppercase()),
    }
}

/// The tag in every id, name and code of the run with `seed`: 16 hex digits, a different tag
/// for every seed (a bijection of the 64 bits, splitmix64's finaliser), random-looking for
/// small seeds too.
fn run_tag(seed: u64) -> String {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    format!("{:016x}", z ^ (z >> 31))
}

fn campaign_type(voucher_type: &str) -> &'static str {
    match voucher_type {
        "GIFT_VOUCHER" => "GIFT_VOUCHERS",
        "LOYALTY_CARD" => "LOYALTY_PROGRAM",
        _ => "DISCOUNT_COUPONS",
    }
}
