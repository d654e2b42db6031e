//! Compression by `Accept-Encoding`, against a real server: JSON, GeoJSON, HTML and JavaScript
//! answers come gzip or brotli compressed and decompress to the identity body; tiles, which
//! compress and cache their own bodies, are not compressed twice, and their ETags and 304s
//! still work.

use crate::common;

use std::io::Read;

use common::server::Server;
use common::wire::{Resp, request};

fn get(server: &Server, path: &str, headers: &[(&str, &str)]) -> Resp {
    let r = request(server.addr, "GET", path, headers, None).unwrap();
    assert!(r.status < 300, "{path}: {} {}", r.status, r.text());
    r
}

fn gunzip(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(b)
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn unbrotli(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    brotli::Decompressor::new(b, 4096)
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[test]
fn json_geojson_html_and_js_are_compressed() {
    let server = Server::start(&[], &[]);
    let paths = [
        "/ogc/collections/plots/items?limit=1000",
        "/sites/search?limit=1000",
        "/catalog",
        "/",
        "/assets/maplibre-gl.js",
        "/ogc/api",
    ];
    for path in paths {
        let plain = get(&server, path, &[]);
        assert_eq!(plain.header("content-encoding"), None, "{path}");
        for (accept, token) in [
            ("gzip", "gzip"),
            ("gzip, br", "br"),
            ("br;q=0, gzip", "gzip"),
        ] {
            let r = get(&server, path, &[("Accept-Encoding", accept)]);
            assert_eq!(r.header("content-encoding"), Some(token), "{path} {accept}");
            assert!(
                r.body.len() * 2 < plain.body.len(),
                "{path}: {} compressed vs {} bytes",
                r.body.len(),
                plain.body.len()
            );
            let body = if token == "br" {
                unbrotli(&r.body)
            } else {
                gunzip(&r.body)
            };
            if path.contains("items") || path.contains("search") {
                // The time stamp differs between two answers: compare the features.
                let a: serde_json::Value = serde_json::from_slice(&body).unwrap();
                assert_eq!(a["features"], plain.json()["features"], "{path}");
            } else {
                assert_eq!(body, plain.body, "{path} {accept}");
            }
        }
    }
}

#[test]
fn tiles_are_not_compressed_twice_and_keep_their_etags() {
    let server = Server::start(&[], &[]);
    let path = "/tiles/all/8/128/87.mvt";
    let plain = get(&server, path, &[]);
    assert_eq!(plain.status, 200, "the demo tile has features");
    assert_eq!(plain.header("content-encoding"), None);
    for (accept, token) in [("gzip", "gzip"), ("br, gzip", "br")] {
        let r = get(&server, path, &[("Accept-Encoding", accept)]);
        assert_eq!(r.header("content-encoding"), Some(token));
        // One decoding gives the tile back: not compressed twice.
        let body = if token == "br" {
            unbrotli(&r.body)
        } else {
            gunzip(&r.body)
        };
        assert_eq!(body, plain.body, "{accept}");
        let etag = r.header("etag").expect("an ETag").to_string();
        let again = request(
            server.addr,
            "GET",
            path,
            &[("Accept-Encoding", accept), ("If-None-Match", &etag)],
            None,
        )
        .unwrap();
        assert_eq!(again.status, 304, "{accept}");
        assert!(again.body.is_empty());
    }
}
