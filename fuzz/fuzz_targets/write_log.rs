//! Write log replay: any bytes as a log file are read without a panic, and the records read
//! are a prefix of the file (a torn or corrupt tail is cut, never half applied).
#![no_main]

use libfuzzer_sys::fuzz_target;
use terriens::store::read_log;

fuzz_target!(|data: &[u8]| {
    let replay = read_log(data);
    assert!(replay.valid_len <= data.len() as u64);
});
