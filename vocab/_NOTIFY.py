"""Solid Notifications terms as a closed namespace, mirrored by ``notify.ttl``.

The server subscribes to changes in pods (a withdrawn consent, a new input version) through
notification channels; discovery and subscription bodies use these IRIs.
"""

from rdflib.namespace import DefinedNamespace, Namespace
from rdflib.term import URIRef


class NOTIFY(DefinedNamespace):
    """Solid Notifications Protocol, the subset for discovery and channels.

    Source: https://solidproject.org/TR/notifications-protocol
    (terms and comments: ``vocab/notify.ttl``).
    """

    _fail = True
    _NS = Namespace("http://www.w3.org/ns/solid/notifications#")

    # http://www.w3.org/2000/01/rdf-schema#Class
    LDNChannel2023: URIRef  # Notifications delivered to an LDN inbox.
    StreamingHTTPChannel2023: URIRef  # Notifications streamed in one HTTP response.
    WebSocketChannel2023: URIRef  # Notifications over a WebSocket the client opens.
    WebhookChannel2023: URIRef  # Notifications POSTed to the subscriber's HTTPS endpoint.

    # http://www.w3.org/1999/02/22-rdf-syntax-ns#Property
    accept: URIRef  # Media type wanted for notifications.
    channel: URIRef  # A channel already set up for a resource.
    channelType: URIRef  # A kind of channel a subscription service offers.
    endAt: URIRef  # When the channel stops.
    feature: URIRef  # An optional parameter a service supports.
    rate: URIRef  # Shortest interval between notifications.
    receiveFrom: URIRef  # Where the subscriber connects to receive.
    sendTo: URIRef  # Where the sender delivers.
    sender: URIRef  # Identity the sender uses.
    startAt: URIRef  # When the channel starts.
    state: URIRef  # Opaque version token the subscriber already has.
    subscription: URIRef  # Links to a subscription service.
    topic: URIRef  # The resource whose changes are wanted.
