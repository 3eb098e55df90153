//! Parses arbitrary UTF-8 as a filter. Must never panic; on success the canonical form must
//! parse back to the same tree.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scim_model::filter::{MAX_FILTER_LEN, parse_filter};

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(filter) = parse_filter(input) else {
        return;
    };
    let printed = filter.to_string();
    match parse_filter(&printed) {
        Ok(again) => assert_eq!(again, filter, "input {input:?}, printed {printed:?}"),
        // Printing can legitimately grow the text (`1e3` -> `1000.0`) or add one level of
        // parentheses (`a[x or y].b eq 1` -> `a[(x or y) and b eq 1]`), so input right at a
        // limit may print past it. Any other failure is a bug.
        Err(e) => assert!(
            printed.len() > MAX_FILTER_LEN || e.message.contains("nested"),
            "input {input:?}, printed {printed:?}: {e}"
        ),
    }
});
