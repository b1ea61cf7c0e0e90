"""The newsletter: double opt-in sign-ups with consent proof, one-click unsubscribe, issues sent on the queue."""
