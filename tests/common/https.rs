//! A stand-in for Traefik's websecure entrypoint: a real TLS server on
//! 127.0.0.1 that answers every request with one status. Tests include it
//! with `#[path = "common/https.rs"] mod traefik;`.

use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A running stand-in; stops when dropped.
pub struct StandIn {
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    _runtime: tokio::runtime::Runtime,
}

impl StandIn {
    /// Serves `cert`/`key` (PEM) and answers `status` until dropped.
    pub fn start(cert: &str, key: &str, status: u16) -> StandIn {
        let certs: Vec<rustls::pki_types::CertificateDer<'static>> =
            x509_parser::pem::Pem::iter_from_buffer(cert.as_bytes())
                .map(|b| b.unwrap())
                .filter(|b| b.label == "CERTIFICATE")
                .map(|b| b.contents.into())
                .collect();
        let key_der = x509_parser::pem::Pem::iter_from_buffer(key.as_bytes())
            .next()
            .unwrap()
            .unwrap()
            .contents;
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(key_der.into());
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        runtime.spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let mut request = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match tls.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    let body = format!("stand-in Traefik answers {status}\n");
                    let reply = format!(
                        "HTTP/1.1 {status} Stand-in\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = tls.write_all(reply.as_bytes()).await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        StandIn {
            port,
            _runtime: runtime,
        }
    }
}
