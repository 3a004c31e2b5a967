//! A mapper built against `ferry:plugin@0.1.0`, which 0.1.1 only adds to: the host must load
//! and run it. It nests the source under the parameter `prefix`.

wit_bindgen::generate!({ world: "mapper", path: "wit" });

struct EarlierMinor;

impl Guest for EarlierMinor {
    fn map_image(image: Image) -> Result<Vec<String>, String> {
        let prefix = ferry::plugin::host::params().into_iter().find(|(k, _)| k == "prefix").map(|(_, v)| v);
        let prefix = prefix.ok_or("the parameter \"prefix\" is missing")?;
        Ok(vec![format!("{prefix}/{}", image.source)])
    }
}

export!(EarlierMinor);
