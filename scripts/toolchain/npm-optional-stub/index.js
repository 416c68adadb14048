throw new Error("fqai: optional WebRTC transport not installed");
