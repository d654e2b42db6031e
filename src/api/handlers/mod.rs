//! Thin handlers: extract, validate, call one engine function, serialise.

pub mod catalog;
pub mod routing;
