//! GeoJSON responses written as text: each feature is copied from the layer's cached feature
//! text ([`LayerData::feature_text`]) and request-specific properties (`distance_m`, …) are
//! appended before its closing braces, so a page of results costs a few string copies rather
//! than a `serde_json::Value` tree per feature.

use std::fmt::Write as _;

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value as Json;

use crate::index::LayerData;
use crate::query::{Cursor, Page};

/// Media type of GeoJSON.
pub const GEOJSON: &str = "application/geo+json";

/// Appends properties to a feature being written.
pub struct Props<'a> {
    out: &'a mut String,
    first: bool,
}

impl Props<'_> {
    fn key(&mut self, key: &str) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        // Keys are identifiers written in code: no escaping needed.
        self.out.push('"');
        self.out.push_str(key);
        self.out.push_str("\":");
    }

    /// A number rounded to centimetres (or to `1e-2` of its unit); null when not finite.
    pub fn num(&mut self, key: &str, v: f64) {
        self.key(key);
        write_num(self.out, v);
    }

    pub fn text(&mut self, key: &str, v: &str) {
        self.key(key);
        write_str(self.out, v);
    }

    pub fn json(&mut self, key: &str, v: &Json) {
        self.key(key);
        self.out.push_str(&v.to_string());
    }
}

/// Writes a number rounded to two decimals, or `null`.
pub fn write_num(out: &mut String, v: f64) {
    if v.is_finite() {
        let r = (v * 100.0).round() / 100.0;
        let _ = write!(out, "{r}");
    } else {
        out.push_str("null");
    }
}

/// Writes a JSON string literal.
pub fn write_str(out: &mut String, s: &str) {
    out.push_str(&Json::from(s).to_string());
}

/// Writes the feature at `row`, letting `extra` append properties, and `members` append
/// members to the feature object itself (e.g. OGC `links`).
pub fn write_feature(
    out: &mut String,
    data: &LayerData,
    row: u32,
    extra: impl FnOnce(&mut Props),
    members: Option<&str>,
) {
    let text = data.feature_text(row);
    // The cached text ends with `}}`: the end of `properties`, then of the feature.
    let head = &text[..text.len().saturating_sub(2)];
    out.push_str(head);
    let mut props = Props {
        first: head.ends_with('{'),
        out,
    };
    extra(&mut props);
    out.push('}');
    if let Some(m) = members {
        out.push(',');
        out.push_str(m);
    }
    out.push('}');
}

/// A link object.
pub fn link(rel: &str, href: &str, media_type: &str) -> Json {
    serde_json::json!({ "rel": rel, "href": href, "type": media_type })
}

/// The URL of this request with `cursor` set (or removed), absolute when the Host is known.
pub fn with_cursor(
    base: &str,
    path: &str,
    query: &[(String, String)],
    cursor: Option<Cursor>,
) -> String {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (k, v) in query {
        if k != "cursor" {
            ser.append_pair(k, v);
        }
    }
    if let Some(c) = cursor {
        ser.append_pair("cursor", &c.encode());
    }
    let q = ser.finish();
    if q.is_empty() {
        format!("{base}{path}")
    } else {
        format!("{base}{path}?{q}")
    }
}

/// `scheme://host` the client used to reach us, for absolute links: the first
/// `X-Forwarded-Host` (a proxy's), else `Host`, else `localhost`; `https` when the first
/// `X-Forwarded-Proto` says so, else `http`. Values are trusted only when well formed: a
/// protocol other than `http`/`https`, or a host holding anything but a host name and port
/// (`/`, `@`, `\\`, spaces, control characters), is ignored, so a header cannot inject a
/// scheme or a path into the links.
pub fn base_url(headers: &HeaderMap) -> String {
    let first = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let host_ok = |h: &&str| {
        h.bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'/' | b'\\' | b'@' | b'?' | b'#'))
    };
    let host = first("x-forwarded-host")
        .filter(host_ok)
        .or_else(|| first(header::HOST.as_str()).filter(host_ok))
        .unwrap_or("localhost");
    let proto = first("x-forwarded-proto")
        .filter(|p| *p == "https" || *p == "http")
        .unwrap_or("http");
    format!("{proto}://{host}")
}

/// The `self`, `next` and `prev` links of a page of `path` (its `cursor` parameter is the
/// page's own).
pub fn page_links<T>(
    base: &str,
    path: &str,
    params: &[(String, String)],
    page: &Page<T>,
) -> Vec<Json> {
    let own = params
        .iter()
        .find(|(k, _)| k == "cursor")
        .and_then(|(_, v)| Cursor::decode(v).ok());
    let mut links = vec![link("self", &with_cursor(base, path, params, own), GEOJSON)];
    if let Some(c) = page.next {
        links.push(link(
            "next",
            &with_cursor(base, path, params, Some(c)),
            GEOJSON,
        ));
    }
    if let Some(c) = page.prev {
        let c = (c.offset > 0).then_some(c);
        links.push(link("prev", &with_cursor(base, path, params, c), GEOJSON));
    }
    links
}

/// Writes a FeatureCollection of one page: `numberMatched`, `numberReturned`, `limit`, the
/// `next` cursor, the features (written by `feature`), then `links` and any `members`.
pub fn feature_collection<T>(
    page: &Page<T>,
    mut feature: impl FnMut(&mut String, &T),
    links: &[Json],
    members: &[(&str, Json)],
) -> String {
    let mut out = String::with_capacity(256 + page.items.len() * 512);
    let _ = write!(
        out,
        "{{\"type\":\"FeatureCollection\",\"numberMatched\":{},\"numberReturned\":{},\"limit\":{},\"next\":",
        page.matched,
        page.items.len(),
        page.limit
    );
    match page.next {
        Some(c) => write_str(&mut out, &c.encode()),
        None => out.push_str("null"),
    }
    out.push_str(",\"features\":[");
    for (i, item) in page.items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        feature(&mut out, item);
    }
    out.push_str("],\"links\":");
    out.push_str(&Json::Array(links.to_vec()).to_string());
    for (k, v) in members {
        out.push(',');
        write_str(&mut out, k);
        out.push(':');
        out.push_str(&v.to_string());
    }
    out.push('}');
    out
}

/// A 200 response with a body of the given media type.
pub fn respond(body: String, media_type: &'static str) -> Response {
    let mut resp = body.into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn base_url_follows_well_formed_proxy_headers() {
        let h = headers(&[
            ("host", "internal:8080"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "maps.example.org, other"),
        ]);
        assert_eq!(base_url(&h), "https://maps.example.org");
        assert_eq!(base_url(&headers(&[("host", "a:1")])), "http://a:1");
        assert_eq!(base_url(&HeaderMap::new()), "http://localhost");
    }

    #[test]
    fn base_url_ignores_bogus_protocol_and_host() {
        let h = headers(&[
            ("host", "good.example"),
            ("x-forwarded-proto", "javascript"),
        ]);
        assert_eq!(base_url(&h), "http://good.example");
        let h = headers(&[
            ("host", "good.example"),
            ("x-forwarded-host", "evil.example/path"),
        ]);
        assert_eq!(base_url(&h), "http://good.example");
        let h = headers(&[("host", "evil.example/x")]);
        assert_eq!(base_url(&h), "http://localhost");
        let h = headers(&[("host", "user@evil.example")]);
        assert_eq!(base_url(&h), "http://localhost");
    }
}
