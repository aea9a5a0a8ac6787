"""Deciding between models: conversations, votes and the leaderboard fitted from them."""
