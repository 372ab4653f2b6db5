//! `vaccel plugins`: the loaded plugins in priority order.

use vaccel::{OpType, Runtime, plugin_type};

/// Run `vaccel plugins`.
pub fn run(rt: &Runtime) {
    for (i, p) in rt.plugins().iter().enumerate() {
        let ops: Vec<&str> = p.ops().iter().map(OpType::name).collect();
        println!("{}. {} {}", i + 1, p.name(), p.version());
        println!(
            "   type:   {} ({:#x})",
            plugin_type::describe(p.plugin_type()),
            p.plugin_type()
        );
        println!("   source: {}", p.source());
        println!("   abi:    {}.{}", p.abi().0, p.abi().1);
        println!("   about:  {}", p.description());
        println!(
            "   ops:    {}",
            if ops.len() == OpType::ALL.len() {
                "all".to_string()
            } else {
                ops.join(", ")
            }
        );
    }
}
