main v1
