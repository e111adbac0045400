#!/usr/bin/env python3
"""Writes the hand-made seed inputs into fuzz/corpus/<target>/ (run from anywhere).

The checked-in corpora are these seeds merged with what fuzzing found, minimised (see
fuzz/README.md); run this again to get the hand-made seeds back.
"""
import base64, hashlib, json, pathlib, struct

FUZZ = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = FUZZ.parent / "tests" / "fixtures"


def put(target, name, data):
    d = FUZZ / "corpus" / target
    d.mkdir(parents=True, exist_ok=True)
    (d / f"seed-{name}").write_bytes(data if isinstance(data, bytes) else data.encode())


def wrap(event_type, event_id, data):
    return {
        "id": f"whs_{event_id}", "project_id": "proj_seed", "created_at": "2024-03-13T13:45:59.600Z",
        "type": "Seed-webhook", "data": data,
        "source": {"id": "distr_seed", "object": "distribution", "target_url": "http://127.0.0.1/"},
        "event": {"id": event_id, "type": event_type, "created_at": "2024-03-13T13:45:59.492Z",
                  "entity_id": "x", "group_id": "g", "event_source": {"channel": "API"}},
    }


# envelope_normalise: whole bodies.
for p in sorted((FIXTURES / "envelopes").iterdir()):
    put("envelope_normalise", p.name, p.read_bytes())
for t in ["customer.publication.succeeded", "publication.succeeded", "voucher.published",
          "distribution.manual_distribution_schedule", "campaign.created", "customer.created",
          "voucher.updated", "voucher.deleted", "redemption.succeeded"]:
    data = json.loads((FIXTURES / "data" / f"{t}.data.openapi-events.json").read_text())
    put("envelope_normalise", f"{t}.json", json.dumps(wrap(t, "ev_seed", data), indent=1))
put("envelope_normalise", "legacy.json", json.dumps(
    {"id": "wh_1", "object": "event", "type": "voucher.published", "data": {"object": {"id": "v_1"}}}))
put("envelope_normalise", "nul.json", json.dumps(
    {"id": "whs_\u0000", "data": {"customer": {"id": "cust_\u0000", "metadata": {"\u0000": "\u0000"}}}}))

# signature: [secret length][header length] secret header body.
def sig(secret, header, body):
    s, h, b = secret.encode(), header.encode(), body.encode()
    return bytes([len(s), len(h)]) + s + h + b

vectors = json.loads((FIXTURES / "signature-test-vectors.json").read_text())["vectors"]
for i, v in enumerate(vectors):
    header = v.get("expected_hex") or v.get("provided_signature") or ""
    message = v["message"] if "message" in v else (FIXTURES / "envelopes" / pathlib.Path(v["message_file"]).name).read_text()
    put("signature", f"vector-{i}", sig(v["secret"][:255], header, message))
pretty = '{\n  "a": 1\n}'
put("signature", "pretty", sig("secretKey", "a17d2ac229d1ebbb5f10e839c7985c4818e5986eab297f7e5979196d4d7d3ed2", pretty))
put("signature", "escaped-quote", sig("k", "00" * 32, '{ "a\\" b" : "c \\\\" , "d":[1, 2] }'))

# cursor: byte 0 % 3 = 0 cursor text, 1 plain text to base64url-encode, 2 raw encoder values.
b64 = lambda s: base64.urlsafe_b64encode(s.encode()).decode().rstrip("=")
for i, plain in enumerate(["p:7:1710337559492123:1800000000000001:pub_a:b", "s:42", "e:1",
                           "c:cust_1", "v:v_1", "k:camp_1", "p:1:x:2:id", "e:-1"]):
    put("cursor", f"text-{i}", b"\x00" + b64(plain).encode())
    put("cursor", f"plain-{i}", b"\x01" + plain.encode())
put("cursor", "values", b"\x02" + struct.pack("<qqq", 7, 1710337559492123, 1800000000000001) + b"pub_x:y")
put("cursor", "garbage", b"\x00!!!")

# graphql: realistic documents (a NUL byte then JSON variables, optionally).
PAGE = "pageInfo { hasNextPage hasPreviousPage startCursor endCursor } totalCount"
queries = {
    "publications": "{ publications(first: 5) { edges { cursor node { id result channel createdAt receivedAt metadata customer { id name email sourceId } voucher { id code type discount { type percentOff amountOff } gift { amount balance } loyaltyCard { points balance } categories { id name hierarchy } } vouchers { id } campaign { id name } event { id type payload } } } " + PAGE + " } }",
    "publications-filter": "query($f: PublicationFilter, $o: PublicationOrder, $a: String) { publications(filter: $f, orderBy: $o, first: 3, after: $a) { nodes { id createdAt } " + PAGE + " } }\0" + json.dumps({"f": {"voucherType": "LOYALTY_CARD", "createdAfter": "2020-01-01T00:00:00Z", "customerSourceId": "jck-wbhk"}, "o": {"field": "RECEIVED_AT", "direction": "ASC"}, "a": None}),
    "publications-last": "{ publications(last: 2, before: \"" + b64("p:9:1710337559492123:1710337559492123:pub_z") + "\") { nodes { id } pageInfo { hasPreviousPage } } }",
    "customers": "{ customers(first: 10, filter: {nameContains: \"jack\"}) { edges { cursor node { id name email metadata vouchers(first: 2) { nodes { code } totalCount } publications { nodes { id } } } } " + PAGE + " } }",
    "customer": "{ customer(id: \"cust_IdgAFZxYwwHctOk9pPuMu308\") { id name sourceId } bySource: customer(sourceId: \"jck-wbhk\") { id } }",
    "vouchers": "{ vouchers(filter: {type: DISCOUNT_VOUCHER, active: true, category: \"cat_1\"}, first: 20) { nodes { id code type active holder { id } campaign { id } redemption { quantity redeemedQuantity } startDate expirationDate createdAt updatedAt publications(first: 1) { totalCount } } " + PAGE + " } }",
    "voucher": "{ voucher(code: \"SPRING-2024-abc\") { id code } v2: voucher(id: \"v_1\") { id } }",
    "campaigns": "{ campaigns(first: 5) { nodes { id name campaignType type description active isReferralCode metadata startDate expirationDate vouchers(last: 3) { nodes { id } } publications { totalCount } } " + PAGE + " } campaign(name: \"Spring Discounts\") { id } }",
    "events": "{ webhookEvents(first: 50, filter: {normalized: false, receivedAfter: \"2000-01-01T00:00:00Z\"}) { edges { cursor node { id deliveryId eventId type eventName sourceId projectId occurredAt receivedAt signatureVerified normalized normalizationNote payload } } " + PAGE + " } }",
    "event": "query($id: ID!) { webhookEvent(id: $id) { id type payload } }\0{\"id\": \"1\"}",
    "fragments": "query Q($skip: Boolean = false) { ...F @skip(if: $skip) publications { ... on PublicationConnection { nodes { __typename id } } } } fragment F on Query { campaigns { totalCount } }",
    "introspection": "{ __schema { types { name fields { name args { name type { name kind ofType { name } } } } } } __type(name: \"Voucher\") { name } }",
    "subscription": "subscription { voucherAssigned { cursor node { id } } }",
    "bad-cursor": "{ customers(after: \"!!!\") { nodes { id } } vouchers(before: \"" + b64("c:cust_1") + "\") { nodes { id } } }",
    "huge-page": "{ publications(first: 2147483647) { nodes { id } } webhookEvents(first: -1) { nodes { id } } }",
}
for name, q in queries.items():
    put("graphql", name, q)
