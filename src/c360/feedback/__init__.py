"""The voice of the customer: feedback from every channel, analysed, prioritised, routed and
closed with the customer."""
