"""Activity Streams 2.0 terms as a closed namespace, mirrored by ``activitystreams.ttl``.

The datacage tells a consumer that a result arrived with a Linked Data Notification whose body
is an Activity Streams ``Create``, and asks a person to renew a consent with an ``Announce``.
"""

from rdflib.namespace import DefinedNamespace, Namespace
from rdflib.term import URIRef


class AS(DefinedNamespace):
    """Activity Vocabulary, the subset of the notifications we send.

    Source: https://www.w3.org/TR/activitystreams-vocabulary/ (terms and comments:
    ``vocab/activitystreams.ttl``).
    """

    _fail = True
    _NS = Namespace("https://www.w3.org/ns/activitystreams#")

    # http://www.w3.org/2000/01/rdf-schema#Class
    Activity: URIRef  # Something an actor did to an object.
    Announce: URIRef  # The actor calls the target's attention to the object.
    Create: URIRef  # The actor created the object.

    # http://www.w3.org/1999/02/22-rdf-syntax-ns#Property
    actor: URIRef  # Who performed the activity.
    context: URIRef  # The larger undertaking the activity belongs to.
    object: URIRef  # What the activity was done to.
    published: URIRef  # When the activity was published.
    summary: URIRef  # A short text about the activity.
    target: URIRef  # Whom or what the activity is directed at.
    url: URIRef  # A link to a page about the object.
