"""All a connector author imports: the connector declaration, source and sink shapes, the HTTP
transport, the guard and pacer, redaction, value parsing and delivery."""
