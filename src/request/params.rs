//! The query string as ordered (name, value) pairs, read by name: filters are dynamic (any
//! field of a layer), so requests are not a fixed struct. The one `get` of the server.

use super::RequestError;

/// Query string pairs in request order.
#[derive(Debug, Clone, Default)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    /// Parses a raw query string.
    pub fn parse(query: &str) -> Params {
        Params(
            form_urlencoded::parse(query.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The value of a parameter given once; a repeated parameter is an error.
    pub fn get(&self, name: &str) -> Result<Option<&str>, RequestError> {
        get(&self.0, name)
    }

    /// A parameter parsed with `FromStr`, with a 400 naming it when it does not parse.
    pub fn parse_as<T: std::str::FromStr>(
        &self,
        name: &str,
        what: &str,
    ) -> Result<Option<T>, RequestError> {
        match self.get(name)? {
            None => Ok(None),
            Some(v) => v.trim().parse::<T>().map(Some).map_err(|_| {
                RequestError::bad_param(name, format!("`{name}` must be {what}, got `{v}`"))
            }),
        }
    }

    /// Whether a parameter is present.
    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }
}

/// The value of a parameter given once in `pairs`; a repeated parameter is an error.
pub fn get<'a>(pairs: &'a [(String, String)], name: &str) -> Result<Option<&'a str>, RequestError> {
    let mut it = pairs.iter().filter(|(k, _)| k == name);
    let first = it.next().map(|(_, v)| v.as_str());
    if it.next().is_some() {
        return Err(RequestError::bad_param(
            name,
            format!("parameter `{name}` is given more than once"),
        ));
    }
    Ok(first)
}
