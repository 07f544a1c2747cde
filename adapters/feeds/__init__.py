"""Feed translators: implementations of engine.feeds.ports.MessageTranslator."""
