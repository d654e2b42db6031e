//! Drives the OGC API – Features the way QGIS does: landing page → conformance → collections →
//! a collection → items with a bbox and a page size, following `next` links to the end; the
//! pages must hold every feature of the bbox exactly once. Also single items, `datetime`, and
//! the content types.

use crate::common;

use std::collections::{BTreeSet, HashSet};

use axum::http::StatusCode;
use serde_json::Value as Json;

use common::http::get;

fn href<'a>(links: &'a Json, rel: &str) -> Option<&'a str> {
    links
        .as_array()?
        .iter()
        .find(|l| l["rel"] == rel)
        .and_then(|l| l["href"].as_str())
}

fn local(url: &str) -> String {
    url.strip_prefix("http://terriens.test")
        .expect("absolute links on the request's host")
        .to_string()
}

#[tokio::test]
async fn qgis_like_client_pages_through_a_bbox() {
    let snap = common::synthetic(5, common::Sizes::DEMO, common::WORLD);
    let r = common::router(snap);
    // Landing page.
    let (s, ct, landing) = get(&r, "/ogc").await;
    assert_eq!((s, ct.as_str()), (StatusCode::OK, "application/json"));
    let conformance = local(href(&landing["links"], "conformance").unwrap());
    let data = local(href(&landing["links"], "data").unwrap());
    let api = local(href(&landing["links"], "service-desc").unwrap());
    let (s, _, conf) = get(&r, &conformance).await;
    assert_eq!(s, StatusCode::OK);
    let classes: Vec<&str> = conf["conformsTo"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert!(classes.contains(&"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"));
    assert!(classes.contains(&"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson"));
    let (s, ct, doc) = get(&r, &api).await;
    assert_eq!(s, StatusCode::OK);
    // JSON, as GDAL and QGIS read it, relative to /ogc.
    assert_eq!(ct, "application/json");
    assert!(doc["openapi"].is_string());
    assert!(doc["paths"]["/collections/{layer}/items"]["get"].is_object());
    assert!(
        doc["paths"]["/collections/plots/items"]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "status")
    );
    // Collections.
    let (_, _, cols) = get(&r, &data).await;
    let list = cols["collections"].as_array().unwrap();
    let ids: Vec<&str> = list.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "plots",
            "buildings",
            "waste_deposits",
            "catchments",
            "territories"
        ]
    );
    for layer in ["plots", "waste_deposits"] {
        let c = list.iter().find(|c| c["id"] == layer).unwrap();
        assert_eq!(c["itemType"], "feature");
        let bbox = c["extent"]["spatial"]["bbox"][0].as_array().unwrap();
        assert_eq!(bbox.len(), 4);
        let (_, _, one) = get(&r, &local(href(&c["links"], "self").unwrap())).await;
        assert_eq!(one["id"], layer);
        // Items with a bbox, pages of 37, following next links.
        let items = local(href(&one["links"], "items").unwrap());
        let b = [0.0, 49.35, 0.45, 49.6];
        let mut url = format!("{items}?bbox={},{},{},{}&limit=37", b[0], b[1], b[2], b[3]);
        let mut seen = HashSet::new();
        let mut pages = 0;
        let mut matched = None;
        loop {
            let (s, ct, page) = get(&r, &url).await;
            assert_eq!(
                (s, ct.as_str()),
                (StatusCode::OK, "application/geo+json"),
                "{page}"
            );
            assert_eq!(page["type"], "FeatureCollection");
            let feats = page["features"].as_array().unwrap();
            assert_eq!(
                page["numberReturned"].as_u64().unwrap() as usize,
                feats.len()
            );
            let m = page["numberMatched"].as_u64().unwrap();
            assert_eq!(
                *matched.get_or_insert(m),
                m,
                "numberMatched is stable across pages"
            );
            assert!(feats.len() <= 37);
            assert!(href(&page["links"], "self").is_some());
            assert!(href(&page["links"], "collection").is_some());
            if pages > 0 {
                assert!(href(&page["links"], "prev").is_some());
            }
            for f in feats {
                assert!(
                    seen.insert(f["id"].as_u64().unwrap()),
                    "duplicate {}",
                    f["id"]
                );
            }
            pages += 1;
            match href(&page["links"], "next") {
                Some(n) => url = local(n),
                None => break,
            }
        }
        assert_eq!(seen.len() as u64, matched.unwrap(), "no gaps");
        assert!(pages > 2, "{layer}: several pages ({pages})");
        // The same set as a single big page.
        let (_, _, all) = get(
            &r,
            &format!(
                "{items}?bbox={},{},{},{}&limit=5000",
                b[0], b[1], b[2], b[3]
            ),
        )
        .await;
        assert_eq!(
            all["limit"], 1000,
            "a limit above the maximum is lowered, not refused"
        );
        let big: BTreeSet<u64> = all["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["id"].as_u64().unwrap())
            .collect();
        assert_eq!(big, seen.iter().copied().collect());
        // One item.
        let id = *seen.iter().next().unwrap();
        let (s, ct, item) = get(&r, &format!("{items}/{id}")).await;
        assert_eq!((s, ct.as_str()), (StatusCode::OK, "application/geo+json"));
        assert_eq!(item["id"].as_u64(), Some(id));
        assert!(href(&item["links"], "collection").is_some());
        println!("{layer}: {} features in {pages} pages", seen.len());
    }
    let (s, ct, _) = get(&r, "/ogc/collections/plots/items/999").await;
    assert_eq!(
        (s, ct.as_str()),
        (StatusCode::NOT_FOUND, "application/problem+json")
    );
    let (s, _, _) = get(&r, "/ogc/collections/roads/items").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn datetime_and_property_filters() {
    let snap = common::synthetic(5, common::Sizes::DEMO, common::WORLD);
    let r = common::router(snap);
    let (_, _, j) = get(
        &r,
        "/ogc/collections/plots/items?datetime=../2026-01-01&status=available&limit=1000",
    )
    .await;
    assert!(j["numberMatched"].as_u64().unwrap() > 0);
    for f in j["features"].as_array().unwrap() {
        assert!(f["properties"]["available_from"].as_str().unwrap() <= "2026-01-01");
        assert_eq!(f["properties"]["status"], "available");
    }
    let (_, _, inst) = get(
        &r,
        "/ogc/collections/plots/items?datetime=2026-03-04T10:00:00Z",
    )
    .await;
    for f in inst["features"].as_array().unwrap() {
        assert_eq!(f["properties"]["available_from"], "2026-03-04");
    }
    // Layers without time ignore datetime.
    let (s, _, all) = get(
        &r,
        "/ogc/collections/waste_deposits/items?datetime=2026-01-01/..&limit=1",
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(all["numberMatched"], 2000);
}
