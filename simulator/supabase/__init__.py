"""The Supabase auth (GoTrue) stand-in: users, sign-in and the access tokens the bot verifies."""
