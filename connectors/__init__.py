"""Rasa channels for the chat platforms, over the shared group-chat core (`group_chat`).

Rasa imports this package when credentials.yml names one of our channels, before the server
takes any request. Rasa's own REST channel never passes through our connectors, so what guards
it is put in place here (`rasa_patches`): the SQL tracker store no longer stops the server for
one request's error, and the REST channel checks what it takes in as the connectors do."""
from connectors.rasa_patches import check_what_rest_takes_in, exit_only_when_the_schema_is_missing

exit_only_when_the_schema_is_missing()
check_what_rest_takes_in()
