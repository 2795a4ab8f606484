// Package wire implements the Jupyter messaging protocol's wire format: the
// multipart frames of a message (routing identities, the "<IDS|MSG>" delimiter,
// an HMAC-SHA256 signature, four JSON parts and optional binary buffers), their
// signing and constant-time verification, and the message header.
//
// The package knows nothing about sockets; the kernel moves frames between
// go-zeromq sockets and calls Encode and Decode here. See
// https://jupyter-client.readthedocs.io/en/stable/messaging.html#the-wire-protocol.
package wire
