//! A mapper built against `ferry:plugin@0.2.0`, which this ferry does not implement: the host
//! must refuse it with a message naming both versions.

wit_bindgen::generate!({ world: "mapper", path: "wit" });

struct Other;

impl Guest for Other {
    fn map_image(image: Image) -> Result<Vec<String>, String> {
        let _ = ferry::plugin::host::params();
        Ok(vec![image.source])
    }
}

export!(Other);
