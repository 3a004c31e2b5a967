//! `ferry plugin …`: components as an operator sees them.

use anyhow::Context as _;
use ferry_plugin::{Host, Limits};

use crate::args::{Global, InspectArgs};
use crate::exit::bad_input;
use crate::stdout::outln;

/// The component cannot be used by this ferry; what it is was printed.
#[derive(Debug)]
struct Unusable(String);

impl std::fmt::Display for Unusable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unusable {}

/// `ferry plugin inspect PATH [--json]`: exit 0 if ferry can run it, 1 if not, 2 if it is not
/// a component at all.
pub(crate) fn inspect(global: &Global, args: &InspectArgs) -> anyhow::Result<()> {
    let wasm = std::fs::read(&args.path).with_context(|| format!("reading {}", args.path.display()))?;
    let name = args.path.file_name().map_or_else(|| args.path.display().to_string(), |n| n.to_string_lossy().into_owned());
    let host = Host::new(Limits::default(), None)?;
    let loaded = host.load(&name, &wasm).map_err(bad_input(args.path.display().to_string()))?;
    let i = host.inspect(&loaded, wasm.len() as u64);
    let usable = match (i.world, i.interface_version.as_deref()) {
        (None, _) => Err("it exports no ferry:plugin world (mapper, sources-parser, tracker, policy)".to_owned()),
        (Some(_), Some(v)) if ferry_plugin::supports(v) => Ok(()),
        (Some(_), v) => Err(format!(
            "it was built against ferry:plugin@{}, and this ferry runs {}",
            v.unwrap_or("(none)"),
            ferry_plugin::SUPPORTED_VERSIONS.join(", ")
        )),
    };
    if args.json {
        let doc = serde_json::json!({
            "name": i.name, "sha256": i.sha256, "size": i.size, "world": i.world,
            "interfaceVersion": i.interface_version, "usable": usable.is_ok(),
            "reason": usable.as_ref().err(), "exports": i.exports, "imports": i.imports,
        });
        outln!("{}", serde_json::to_string_pretty(&doc)?);
    } else if !global.quiet {
        outln!("{}", args.path.display());
        outln!("  world:     {}", i.world.unwrap_or("(none)"));
        outln!("  interface: ferry:plugin@{}", i.interface_version.as_deref().unwrap_or("(none)"));
        outln!("  exports:   {}", i.exports.join(", "));
        outln!("  imports:   {}", i.imports.join(", "));
        outln!("  size:      {} bytes", i.size);
        outln!("  sha256:    {}", i.sha256);
        outln!("  usable:    {}", usable.as_ref().map_or_else(|r| format!("no: {r}"), |()| "yes".to_owned()));
    }
    usable.map_err(|r| Unusable(format!("{}: not usable: {r}", args.path.display())).into())
}
