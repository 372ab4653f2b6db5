//! # vaccel-ttrpc: upstream vAccel's agent protocol, sans-IO
//!
//! Guests built with upstream vAccel talk to their host agent with ttrpc (containerd's
//! lightweight gRPC) carrying the protobuf messages of `vaccel.sync.agent.AgentService`.
//! This crate is that protocol without any I/O, for our agent to serve such guests:
//!
//! * [`framing`] — ttrpc's 10-byte frame header, checked against a size limit before a
//!   payload is read; how a connection's first bytes tell ttrpc from our own protocol;
//! * [`pb`] — the messages, generated at build time by prost from the `.proto` files in
//!   `proto/` (written from the protocol's facts; protox parses them, so no `protoc`);
//! * [`Method`] — which RPC a request names;
//! * [`tensors`] — the frameworks' tensor messages to and from the runtime's tensors;
//! * [`status`] — replies that fail the way upstream's guests read failures (an INTERNAL
//!   status whose detail carries the vAccel errno);
//! * [`client`] — a blocking client over a stream the caller connected (tools and
//!   benchmarks acting as an upstream guest).

#![forbid(unsafe_code)]

pub mod client;
pub mod framing;
pub mod status;
pub mod tensors;

/// The generated protobuf messages, by package.
pub mod pb {
    #![allow(missing_docs, clippy::all)]

    /// ttrpc's envelope.
    pub mod ttrpc {
        include!(concat!(env!("OUT_DIR"), "/ttrpc.rs"));
    }
    /// `google.rpc.Status`.
    pub mod google {
        /// `google.rpc`.
        pub mod rpc {
            include!(concat!(env!("OUT_DIR"), "/google.rpc.rs"));
        }
    }
    /// `vaccel.*`.
    pub mod vaccel {
        include!(concat!(env!("OUT_DIR"), "/vaccel.rs"));
        /// `vaccel.empty`.
        pub mod empty {
            include!(concat!(env!("OUT_DIR"), "/vaccel.empty.rs"));
        }
        /// `vaccel.session`.
        pub mod session {
            include!(concat!(env!("OUT_DIR"), "/vaccel.session.rs"));
        }
        /// `vaccel.resource`.
        pub mod resource {
            include!(concat!(env!("OUT_DIR"), "/vaccel.resource.rs"));
        }
        /// `vaccel.image`.
        pub mod image {
            include!(concat!(env!("OUT_DIR"), "/vaccel.image.rs"));
        }
        /// `vaccel.genop`.
        pub mod genop {
            include!(concat!(env!("OUT_DIR"), "/vaccel.genop.rs"));
        }
        /// `vaccel.profiling`.
        pub mod profiling {
            include!(concat!(env!("OUT_DIR"), "/vaccel.profiling.rs"));
        }
        /// `vaccel.tf`.
        pub mod tf {
            include!(concat!(env!("OUT_DIR"), "/vaccel.tf.rs"));
        }
        /// `vaccel.tflite`.
        pub mod tflite {
            include!(concat!(env!("OUT_DIR"), "/vaccel.tflite.rs"));
        }
        /// `vaccel.torch`.
        pub mod torch {
            include!(concat!(env!("OUT_DIR"), "/vaccel.torch.rs"));
        }
    }
}

pub use prost::Message;

/// The service name of upstream's agent (sync builds of the guest client).
pub const SERVICE: &str = "vaccel.sync.agent.AgentService";
/// The same service as async builds of the guest client name it.
pub const SERVICE_ASYNC: &str = "vaccel.asynchronous.agent.AgentService";

macro_rules! methods {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {
        /// An RPC of `AgentService`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Method {
            $($(#[$doc])* $name,)*
        }

        impl Method {
            /// Every RPC.
            pub const ALL: &'static [Method] = &[$(Method::$name),*];

            /// The method's name on the wire.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Method::$name => stringify!($name),)*
                }
            }
        }
    };
}

methods! {
    /// `session.CreateRequest` → `session.CreateResponse`.
    CreateSession,
    /// `session.UpdateRequest` → `empty.Empty`.
    UpdateSession,
    /// `session.DestroyRequest` → `empty.Empty`.
    DestroySession,
    /// `resource.RegisterRequest` → `resource.RegisterResponse`.
    RegisterResource,
    /// `resource.UnregisterRequest` → `empty.Empty`.
    UnregisterResource,
    /// `resource.SyncRequest` → `resource.SyncResponse`.
    SyncResource,
    /// `image.Request` → `image.Response`.
    ImageClassification,
    /// `tf.ModelLoadRequest` → `tf.ModelLoadResponse`.
    TensorflowModelLoad,
    /// `tf.ModelUnloadRequest` → `tf.ModelUnloadResponse`.
    TensorflowModelUnload,
    /// `tf.ModelRunRequest` → `tf.ModelRunResponse`.
    TensorflowModelRun,
    /// `tflite.ModelLoadRequest` → `empty.Empty`.
    TensorflowLiteModelLoad,
    /// `tflite.ModelUnloadRequest` → `empty.Empty`.
    TensorflowLiteModelUnload,
    /// `tflite.ModelRunRequest` → `tflite.ModelRunResponse`.
    TensorflowLiteModelRun,
    /// `torch.ModelLoadRequest` → `empty.Empty`.
    TorchModelLoad,
    /// `torch.ModelRunRequest` → `torch.ModelRunResponse`.
    TorchModelRun,
    /// `genop.Request` → `genop.Response`.
    Genop,
    /// A stream of `genop.Request`s (large arguments in parts) → `genop.Response` (the
    /// async builds' service).
    GenopStream,
    /// `profiling.Request` → `profiling.Response`.
    GetProfiler,
}

impl Method {
    /// The RPC a request names: `service` must be [`SERVICE`] or [`SERVICE_ASYNC`].
    pub fn of(service: &str, method: &str) -> Option<Method> {
        if service != SERVICE && service != SERVICE_ASYNC {
            return None;
        }
        Method::ALL.iter().copied().find(|m| m.name() == method)
    }
}
