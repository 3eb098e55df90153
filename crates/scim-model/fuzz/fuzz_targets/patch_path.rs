//! Parses arbitrary UTF-8 as a PATCH path and as an attribute path. Must never panic; on
//! success the canonical form must parse back to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scim_model::filter::MAX_FILTER_LEN;
use scim_model::path::{AttrPath, PatchPath};

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(path) = AttrPath::parse(input) {
        let printed = path.to_string();
        assert_eq!(AttrPath::parse(&printed), Ok(path), "input {input:?}");
    }
    if let Ok(path) = PatchPath::parse(input) {
        let printed = path.to_string();
        match PatchPath::parse(&printed) {
            Ok(again) => assert_eq!(again, path, "input {input:?}, printed {printed:?}"),
            // See filter_parse.rs: printing may grow past a limit for input right at it.
            Err(e) => assert!(
                printed.len() > MAX_FILTER_LEN || e.message.contains("nested"),
                "input {input:?}, printed {printed:?}: {e}"
            ),
        }
    }
});
